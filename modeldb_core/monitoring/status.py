"""The monitoring state of models and deployments, and the rule that calls one degraded.

Read from the monitoring runs themselves (phase ``monitoring``, tags
``modeldb.monitor.model`` / ``.version`` and ``modeldb.deployment``, metric
``drift.flagged``): nothing else is stored, so the state is what the runs say.

The degradation rule is a pure function of a deployment's (or, without deployment, a
model version's) latest monitoring verdicts, newest first: degraded when the last
``degraded_after`` batches (setting, 3 by default) were all flagged. The deployments
part of ModelDB calls ``deployment_degraded`` after each monitoring run of a deployment
and marks it degraded (audited) when it answers True.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .batch import DEPLOYMENT_TAG, MONITOR_TAG

MODEL_TAG = MONITOR_TAG + "model"
VERSION_TAG = MONITOR_TAG + "version"


@dataclass(frozen=True)
class DegradationRule:
    """Degraded after ``flagged_in_a_row`` flagged batches in a row."""

    flagged_in_a_row: int = 3

    @classmethod
    def from_settings(cls, settings: Any = None) -> DegradationRule:
        if settings is None:
            from ..client import get_client

            settings = get_client().settings
        return cls(flagged_in_a_row=settings.degraded_after)


def flagged_run_length(verdicts_newest_first: Sequence[bool]) -> int:
    """How many of the latest batches in a row were flagged."""
    count = 0
    for flagged in verdicts_newest_first:
        if not flagged:
            break
        count += 1
    return count


def is_degraded(verdicts_newest_first: Sequence[bool], rule: DegradationRule) -> bool:
    """The rule: the latest ``rule.flagged_in_a_row`` batches were all flagged."""
    return flagged_run_length(verdicts_newest_first) >= rule.flagged_in_a_row


@dataclass
class MonitorState:
    """The latest monitoring state of one (model version, deployment)."""

    model: str
    version: int | None
    deployment: str | None
    batches: int
    last_run_id: str
    last_at: float
    flagged: bool
    flagged_in_a_row: int
    degraded: bool
    features_flagged: int
    rows: int | None
    top_drift: list[tuple[str, float]] = field(default_factory=list)  # (feature, PSI), largest first
    project: str | None = None  # the model's (names are unique per project)


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def monitoring_runs(store: Any, model: str | None = None, deployment: str | None = None,
                    limit: int = 2000, version: int | None = None, project: str | None = None) -> list[Any]:
    """Monitoring runs (``RunRecord``), newest first, of ``model`` (and ``version``) and/or
    ``deployment``; of ``project`` only when given (model names are unique per project: a
    monitoring run is recorded in its model's project)."""
    from ..query import search_runs

    clauses = ['phase = "monitoring"', f"tags.{_quoted(MODEL_TAG)} is not null"]
    if model is not None:
        clauses.append(f"tags.{_quoted(MODEL_TAG)} = {_quoted(model)}")
    if version is not None:
        clauses.append(f"tags.{_quoted(VERSION_TAG)} = {_quoted(str(version))}")
    if deployment is not None:
        clauses.append(f"tags.{_quoted(DEPLOYMENT_TAG)} = {_quoted(str(deployment))}")
    page = search_runs(" and ".join(clauses), project=project, order_by="-started", limit=limit, store=store)
    return list(page.runs)


def _flagged(record: Any) -> bool:
    return record.metrics.get("drift.flagged", 0.0) >= 0.5


def latest_states(store: Any, model: str | None = None, deployment: str | None = None,
                  rule: DegradationRule | None = None, limit: int = 2000,
                  project: str | None = None) -> list[MonitorState]:
    """One state per (model, version, deployment) seen in the latest ``limit`` monitoring runs."""
    rule = rule or DegradationRule.from_settings()
    groups: dict[tuple[str | None, str, str | None, str | None], list[Any]] = {}
    for record in monitoring_runs(store, model, deployment, limit, project=project):
        key = (record.project, record.tags.get(MODEL_TAG, ""), record.tags.get(VERSION_TAG),
               record.tags.get(DEPLOYMENT_TAG))
        groups.setdefault(key, []).append(record)
    states = []
    for (in_project, name, version, where), records in groups.items():
        verdicts = [_flagged(r) for r in records]
        last = records[0]
        psi = sorted(((k[len("drift.psi."):], v) for k, v in last.metrics.items() if k.startswith("drift.psi.")),
                     key=lambda item: -item[1])
        rows = last.metrics.get("drift.rows")
        states.append(MonitorState(
            model=name, version=int(version) if version and version.isdigit() else None, deployment=where,
            batches=len(records), last_run_id=last.id, last_at=last.run.started_at, flagged=verdicts[0],
            flagged_in_a_row=flagged_run_length(verdicts), degraded=is_degraded(verdicts, rule),
            features_flagged=int(last.metrics.get("drift.features_flagged", 0)),
            rows=int(rows) if rows is not None else None, top_drift=psi[:5], project=in_project))
    states.sort(key=lambda s: (s.model, s.project or "", s.deployment or "", -(s.version or 0)))
    return states


def deployment_degraded(store: Any, deployment: str, latest_flagged: bool | None = None,
                        rule: DegradationRule | None = None, skip_run: str | None = None,
                        model: str | None = None, version: int | None = None, project: str | None = None) -> bool:
    """Whether ``deployment`` is degraded by the rule, from its recorded monitoring runs and,
    when given, the verdict of a batch just monitored (``skip_run``: its run, not counted
    twice if it is already in the store). ``model`` and ``version`` count only that version's
    batches, as ``latest_states`` groups them: a version deployed in place of a degraded one
    (``deployment`` an environment's name) starts its own run of batches."""
    rule = rule or DegradationRule.from_settings()
    records = monitoring_runs(store, model=model, deployment=deployment, limit=rule.flagged_in_a_row + 1,
                              version=version, project=project)
    verdicts = [_flagged(r) for r in records if r.id != skip_run][:rule.flagged_in_a_row]
    if latest_flagged is not None:
        verdicts = [latest_flagged, *verdicts]
    return is_degraded(verdicts, rule)


def history(store: Any, model: str, limit: int = 500, project: str | None = None) -> list[dict[str, Any]]:
    """A model's monitoring runs, oldest first, with every drift and prediction metric:
    what the monitoring page and ``/api/models/{name}/monitoring`` show."""
    records = monitoring_runs(store, model=model, limit=limit, project=project)
    return [{"run_id": r.id, "started_at": r.run.started_at, "status": r.status,
             "version": r.tags.get(VERSION_TAG), "deployment": r.tags.get(DEPLOYMENT_TAG),
             "flagged": _flagged(r), "problems": r.tags.get(MONITOR_TAG + "problems"),
             "drift_report": r.tags.get(MONITOR_TAG + "drift"),
             "metrics": dict(r.metrics)} for r in reversed(records)]
