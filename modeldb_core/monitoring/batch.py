"""``mdb.monitor``: one batch of live data recorded as a monitoring run.

A monitoring run is a run of phase ``monitoring``, recorded through the tracking runtime
like any other (journaled on the caller's thread, written by the process's writer):

- input ``batch``: the batch's fingerprint (when it has at most ``profile_rows`` rows);
- tags: ``modeldb.monitor.model`` / ``.version`` / ``.target`` (the model version the
  batch was scored by, resolved when the call is made), ``modeldb.deployment`` when
  given, ``modeldb.profile.batch`` (the batch's profile) and ``modeldb.monitor.drift``
  (the drift report: every feature's method, sample sizes, p-value and thresholds), both
  JSON blobs of the artifact store, ``modeldb.monitor.problems`` (schema problems);
- metrics: ``drift.flagged`` (1/0), ``drift.features_flagged``, ``drift.rows``,
  ``drift.schema_problems``; per feature ``drift.ks.<f>`` or ``drift.chi2.<f>``,
  ``drift.p.<f>``, ``drift.psi.<f>``, ``drift.psi_threshold.<f>``, ``drift.js.<f>``
  (categories), ``drift.missing.<f>`` (share of missing values, when any),
  ``drift.feature_flagged.<f>`` (1, for the features the batch was flagged for);
  ``prediction.count`` / ``.mean`` / ``.std`` / ``.min`` / ``.max`` / ``.p50`` or, for
  classes, ``prediction.share.<class>``; with labels, the model's metrics under the names
  its training run used (``r2_score``, ``mean_squared_error``, ``accuracy_score``...).

It never raises into the serving code: whatever goes wrong (an unknown model, a store
that is down, a batch that cannot be read) is logged once and said in the returned
``MonitorResult.error``. Its cost is bounded: a batch over ``profile_rows`` rows is
measured on a seeded sample of that many rows.
"""
from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass, field
from typing import Any

from ..safety import report, safe_call

MONITOR_TAG = "modeldb.monitor."
DEPLOYMENT_TAG = "modeldb.deployment"
MAX_CLASSES = 20
_REGRESSION = ("r2_score", "mean_squared_error", "mean_absolute_error")
_CLASSIFICATION = ("accuracy_score", "precision_score", "recall_score", "f1_score")
_AVERAGED = ("precision_score", "recall_score", "f1_score")


@dataclass
class MonitorResult:
    """What ``monitor`` recorded (``error`` says why it could not, if it could not)."""

    run_id: str | None = None
    model: str | None = None
    version: int | None = None
    deployment: str | None = None
    flagged: bool = False
    drift: Any = None  # a drift.DriftReport
    metrics: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    error: str | None = None
    # The degradation rule's answer for ``deployment`` after this batch (None: not asked).
    degraded: bool | None = None
    uri: str | None = None  # the version monitored, with its project (models:/project/name/N)
    project: str | None = None  # the model's project

    @property
    def flagged_features(self) -> list[str]:
        return self.drift.flagged_features if self.drift is not None else []


@dataclass(frozen=True)
class _Reference:
    model: str
    version: int
    project: str | None
    run_id: str | None
    profile_hash: str | None
    training_metrics: tuple[str, ...]
    uri: str  # models:/project/name/N: names the version whatever other projects hold the name


_references: dict[tuple[str, str, int, str | None], _Reference] = {}
_lock = threading.Lock()


def _resolve(client: Any, target: str) -> Any:
    from ..errors import NotFoundError

    try:
        return client.open_store().resolve_model(target, detail=False)
    except NotFoundError:
        # Registered by this very process a moment ago: wait for its events once.
        return client.store.resolve_model(target, detail=False)


def _reference(client: Any, target: str) -> _Reference:
    """The model version ``target`` names now, with its training profile (per version, once)."""
    from .reference import training_profile

    version = _resolve(client, target)
    key = (client.settings.uri, version.qualified_uri, int(version.version), version.run_id)
    with _lock:
        found = _references.get(key)
    if found is not None:
        return found
    store = client.open_store()
    profile_hash, project, metrics = None, None, ()
    if version.run_id:
        detail = store.get_run_detail(version.run_id)
        project = detail.run.project
        metrics = tuple(sorted(detail.metrics))
        picked = training_profile(store, version.run_id)
        profile_hash = picked[1] if picked else None
    found = _Reference(version.model, int(version.version), project, version.run_id, profile_hash, metrics,
                       version.qualified_uri)
    with _lock:
        _references[key] = found
    return found


def _label(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _drift_metrics(report: Any) -> dict[str, float]:
    metrics = {"drift.flagged": 1.0 if report.flagged else 0.0,
               "drift.features_flagged": float(len(report.flagged_features)),
               "drift.rows": float(report.rows),
               "drift.schema_problems": float(len(report.missing_columns) + len(report.type_changed))}
    for f in report.features:
        if f.statistic is not None:
            metrics[f"drift.{f.method}.{f.feature}"] = f.statistic
        if f.p_value is not None:
            metrics[f"drift.p.{f.feature}"] = f.p_value
        if f.psi is not None:
            metrics[f"drift.psi.{f.feature}"] = f.psi
            metrics[f"drift.psi_threshold.{f.feature}"] = f.psi_threshold
        if f.js is not None:
            metrics[f"drift.js.{f.feature}"] = f.js
        if f.missing_share:
            metrics[f"drift.missing.{f.feature}"] = f.missing_share
        if f.flagged:
            metrics[f"drift.feature_flagged.{f.feature}"] = 1.0
    return metrics


def _prediction_metrics(predictions: Any) -> dict[str, float]:
    import numpy as np

    values = np.asarray(predictions).reshape(len(predictions), -1)[:, 0] \
        if getattr(predictions, "ndim", 1) > 1 else np.asarray(predictions)
    metrics = {"prediction.count": float(values.size)}
    if values.size == 0:
        return metrics
    if values.dtype.kind == "f" or (values.dtype.kind in "iu" and np.unique(values).size > MAX_CLASSES):
        finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values
        if finite.size:
            metrics.update({"prediction.mean": float(finite.mean()), "prediction.std": float(finite.std()),
                            "prediction.min": float(finite.min()), "prediction.max": float(finite.max()),
                            "prediction.p50": float(np.median(finite))})
        if finite.size < values.size:
            metrics["prediction.missing"] = float(1 - finite.size / values.size)
        return metrics
    found, counts = np.unique(values.astype(str), return_counts=True)
    order = np.argsort(-counts)[:MAX_CLASSES]
    for index in order:
        metrics[f"prediction.share.{found[index][:200]}"] = float(counts[index] / values.size)
    return metrics


def _label_metrics(predictions: Any, labels: Any, training_metrics: tuple[str, ...]) -> dict[str, float]:
    """The model's metrics on the labelled batch, named as its training run named them
    (``training_r2_score`` at training is ``r2_score`` here)."""
    import numpy as np
    import sklearn.metrics as m

    y_true, y_pred = np.asarray(labels), np.asarray(predictions)
    trained = {name[len("training_"):] for name in training_metrics if name.startswith("training_")}
    if trained & set(_REGRESSION):
        names = [n for n in _REGRESSION if n in trained]
    elif trained & set(_CLASSIFICATION):
        names = [n for n in _CLASSIFICATION if n in trained]
    else:
        names = list(_REGRESSION if y_pred.dtype.kind == "f" else _CLASSIFICATION)
    values = {}
    for name in names:
        options = {"average": "weighted", "zero_division": 0} if name in _AVERAGED else {}
        value = safe_call(f"compute {name} of a monitored batch", getattr(m, name), y_true, y_pred, **options)
        if value is not None:
            values[name] = float(value)
    return values


def _finite(metrics: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if v is not None and not (isinstance(v, float) and math.isnan(v))}


def monitor(target: str, batch: Any = None, predictions: Any = None, labels: Any = None,
            deployment: str | None = None, *, name: str | None = None, client: Any = None) -> MonitorResult:
    """Record a monitoring run of ``batch`` (a DataFrame or array of the model's features) for
    the model version ``target`` (``models:/name/3``, ``models:/name@production``):
    its profile, its drift against the version's training profile, statistics of
    ``predictions`` and, with ``labels``, the model's metrics. ``deployment``: the deployment
    (id or name) that served the batch, kept as the tag ``modeldb.deployment``."""
    from ..client import get_client

    result = MonitorResult(deployment=None if deployment is None else str(deployment))
    client = client or get_client()
    if client.disabled:
        result.error = "tracking is disabled"
        return result
    try:
        _record(client, target, batch, predictions, labels, result, name)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - serving code never sees a monitoring error
        report("record a monitoring run", exc)
        result.error = f"{type(exc).__name__}: {exc}"
    if result.deployment is not None and result.run_id is not None:
        result.degraded = safe_call("apply the degradation rule", _degraded, client, result)
        if result.degraded:
            safe_call("mark the deployment degraded", _mark_degraded, client, result)
    return result


def _mark_degraded(client: Any, result: MonitorResult) -> None:
    """The deployment turns ``degraded`` in the registry (audited; marking it again changes
    nothing). ``deployment`` is its number, or the environment the monitored version serves in."""
    from ..registry import actor

    store = client.store
    target: Any = result.deployment
    if not target.isdigit():  # an environment's name: the deployment of this version serving there
        serving = store.deployments(model=result.uri, environment=target)
        if not serving:
            return
        target = serving[0]
    rule = _rule(client)
    reason = (f"{rule.flagged_in_a_row} flagged monitoring batches in a row "
              f"(the last: run {result.run_id})")
    store.mark_degraded(target, reason, actor(client.settings))


def _rule(client: Any) -> Any:
    from .status import DegradationRule

    return DegradationRule.from_settings(client.settings)


def _degraded(client: Any, result: MonitorResult) -> bool:
    """The degradation rule for the batch's deployment, this batch included. Only a flagged
    batch can make a deployment degraded, so only then is the store read (after this
    process's earlier monitoring runs have reached it)."""
    from .status import deployment_degraded

    if not result.flagged:
        return False
    rule = _rule(client)
    # The run just recorded may not be in the store yet: it is counted by its verdict.
    return deployment_degraded(client.store, result.deployment, latest_flagged=True, rule=rule,
                               skip_run=result.run_id, model=result.model, version=result.version,
                               project=result.project)


def _record(client: Any, target: str, batch: Any, predictions: Any, labels: Any, result: MonitorResult,
            name: str | None) -> None:
    from ..artifact_store import ArtifactStore
    from ..run import start_run
    from .drift import compare
    from .profile import profile_with_values, sample_rows
    from .reference import PROFILE_TAG, store_profile

    settings = client.settings
    ref = _reference(client, target)
    result.model, result.version, result.uri, result.project = ref.model, ref.version, ref.uri, ref.project
    tags = {MONITOR_TAG + "model": ref.model, MONITOR_TAG + "version": str(ref.version),
            MONITOR_TAG + "target": str(target)}
    if result.deployment is not None:
        tags[DEPLOYMENT_TAG] = result.deployment
    # Nested under the caller's run when there is one (a Prefect or Airflow task that monitors).
    run = start_run(name or f"monitor {ref.model}", project=ref.project, phase="monitoring", tags=tags,
                    parent=True, client=client)
    result.run_id = run.id
    status, error = "succeeded", None
    try:
        metrics: dict[str, float] = {}
        if batch is not None:
            if _rows(batch) <= settings.profile_rows:
                # What the model scored, as a lineage node; a larger batch is known by its
                # profile alone (hashing it would cost the serving code more than the rest).
                safe_call("record the monitored batch", run.log_input, batch, name="batch")
            sample, _ = sample_rows(batch, settings.profile_rows)
            profile, sorted_finite = profile_with_values(sample, settings.profile_rows, settings.profile_bytes)
            profile["rows"] = _rows(batch)
            # The server (when the store is one) gets the profile and report from the writer:
            # the serving code never waits for an upload.
            stored = safe_call("store the batch's profile", store_profile, profile, settings.artifacts)
            if stored is not None:
                client.keep_blob(ArtifactStore(settings.artifacts).root, stored)
                run.set_tag(PROFILE_TAG + "batch", stored)
            remote = client.blob_keeper()  # where a reference kept on another machine is read from
            reference = _training_profile(ref, settings, result, remote)
            if reference is not None:
                drift = compare(reference, sample, settings.drift_fdr, ref.profile_hash, sorted_finite)
                drift.rows = profile["rows"]
                result.drift, result.flagged = drift, drift.flagged
                result.problems += drift.problems
                metrics.update(_drift_metrics(drift))
                report_hash = safe_call("store the drift report", store_drift_report, drift, settings.artifacts)
                if report_hash is not None:
                    client.keep_blob(ArtifactStore(settings.artifacts).root, report_hash)
                    run.set_tag(MONITOR_TAG + "drift", report_hash)
                run.log_params({"drift.fdr": settings.drift_fdr, "drift.reference": ref.profile_hash})
        if predictions is not None:
            metrics.update(safe_call("describe the predictions", _prediction_metrics, predictions, default={}))
            if labels is not None:
                metrics.update(safe_call("score the predictions", _label_metrics, predictions, labels,
                                         ref.training_metrics, default={}))
        if result.problems:
            run.set_tag(MONITOR_TAG + "problems", "; ".join(result.problems)[:4000])
        result.metrics = _finite(metrics)
        for key, value in result.metrics.items():
            safe_call("record a monitoring metric", run.log_metric, key, value, raise_validation=False)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:
        status, error = "failed", exc
        raise
    finally:
        safe_call("end a monitoring run", run.end, status, error=error)


def _training_profile(ref: _Reference, settings: Any, result: MonitorResult,
                      remote: Any = None) -> dict[str, Any] | None:
    """The version's training profile, or ``None`` with the reason among the problems."""
    from ..errors import NotFoundError
    from .reference import load_profile

    if ref.profile_hash is None:
        result.problems.append(f"model {ref.model} version {ref.version} has no training profile: "
                               "drift is not measured")
        return None
    try:
        return load_profile(ref.profile_hash, settings.artifacts, remote)
    except NotFoundError:
        result.problems.append(f"the training profile {ref.profile_hash} of model {ref.model} version "
                               f"{ref.version} is not in the artifact store {settings.artifacts}: "
                               "drift is not measured")
        return None


def _rows(batch: Any) -> int:
    from .profile import row_count

    return row_count(batch)


def store_drift_report(drift: Any, artifacts: Any) -> str:
    """Keep the drift report as a JSON blob of the artifact store; its content hash."""
    from ..artifact_store import ArtifactStore
    from ..web.encode import jsonable

    body = json.dumps(jsonable(drift.to_dict()), sort_keys=True, separators=(",", ":")).encode()
    blob = ArtifactStore(artifacts).put_bytes(body, {"format": "json", "kind": "drift_report"})
    return blob.content_hash
