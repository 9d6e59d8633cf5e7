"""The verdict of a reproduction: the outputs and metrics of the re-run against the original's.

- ``identical``: every output has the same content hash and every metric the same value;
- ``within_tolerance``: the metrics agree within the tolerance, but some outputs differ
  (named);
- ``different``: a metric is outside the tolerance, an output is missing, or outputs differ
  with no metric to say they agree (named, with by how much);
- ``failed``: the re-run raised.

Timings (metrics named ``*_s``, ``*_seconds``, ``*_time``, ``*fit_time*``, ``*score_time*``)
are not compared: a re-run never takes the same time. With the likely cause when one is known: unseeded randomness, an environment
difference, an input that changed.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

from ..model import RunDetail
from .plan import ReproductionPlan

IDENTICAL, WITHIN_TOLERANCE, DIFFERENT, FAILED = "identical", "within_tolerance", "different", "failed"
DEFAULT_TOLERANCE = 1e-6
_ORDER = (IDENTICAL, WITHIN_TOLERANCE, DIFFERENT, FAILED)


def worst(verdicts: Iterable[str]) -> str:
    """The verdict of several re-runs taken together (a flow's task runs): the worst of them."""
    return max(verdicts, key=_ORDER.index, default=IDENTICAL)


@dataclass(frozen=True)
class Difference:
    """One output or metric that came out otherwise."""

    kind: str  # output | metric
    name: str
    original: Any
    reproduced: Any
    delta: float | None = None  # for a metric: reproduced - original


@dataclass
class Verdict:
    """What ``modeldb reproduce`` / ``mdb.reproduce`` says about a re-run."""

    run_id: str
    reproduction_run_id: str | None
    verdict: str
    identical_outputs: list[str] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)
    likely_causes: list[str] = field(default_factory=list)
    tolerance: float = DEFAULT_TOLERANCE
    plan: ReproductionPlan | None = None
    reused: list[str] = field(default_factory=list)  # upstream tasks whose outputs were still there
    error: str | None = None
    upstream: list["Verdict"] = field(default_factory=list)  # --upstream: the runs reproduced first
    tasks: list["Verdict"] = field(default_factory=list)  # --flow: each task run of the flow, compared

    @property
    def identical(self) -> bool:
        return self.verdict == IDENTICAL

    def summary(self) -> dict[str, Any]:
        """What is stored with the reproduction (the plan stays out)."""
        return {"verdict": self.verdict, "identical_outputs": self.identical_outputs,
                "differences": [asdict(d) for d in self.differences], "likely_causes": self.likely_causes,
                "tolerance": self.tolerance, "reused": self.reused, "error": self.error,
                "upstream": [{"run_id": v.run_id, "reproduction_run_id": v.reproduction_run_id,
                              "verdict": v.verdict} for v in self.upstream],
                **({"tasks": [v.to_dict() for v in self.tasks]} if self.tasks else {})}

    def to_dict(self) -> dict[str, Any]:
        data = {"run_id": self.run_id, "reproduction_run_id": self.reproduction_run_id, **self.summary()}
        if self.plan is not None:
            data["plan"] = self.plan.to_dict()
        return data


def _outputs(detail: RunDetail) -> dict[str, str]:
    return {io.name or io.artifact.kind: io.artifact.content_hash for io in detail.outputs}


def _after_end(detail: RunDetail, key: str) -> bool:
    points = detail.metric_history.get(key) or []
    ended = detail.run.ended_at
    return bool(points) and ended is not None and min(p.timestamp for p in points) > ended


def is_timing(key: str) -> bool:
    return key.endswith(("_s", "_seconds", "_time")) or "fit_time" in key or "score_time" in key


def _close(a: float, b: float, tolerance: float) -> bool:
    if math.isnan(a) and math.isnan(b):
        return True
    return a == b or math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance)


def _without_timings(value: Any) -> Any:
    """A fitted search keeps how long each fit took (``cv_results_``'s ``*_time`` columns,
    ``refit_time_``): timings, which no re-run repeats and the verdict does not compare."""
    results = getattr(value, "cv_results_", None)
    if isinstance(results, dict):
        value.cv_results_ = {k: v for k, v in results.items() if not k.endswith("_time")}
    if hasattr(value, "refit_time_"):
        value.refit_time_ = 0.0
    return value


def pickled_alike(store: Any, first: str, second: str) -> bool:
    """Whether two pickles in the artifact store hold equal objects. A fitted model pickled
    twice can differ in bytes alone (pickle shares an object met twice, and a model
    rebuilt from a pickle holds copies where the original held one object): both are
    loaded and pickled again without sharing, and those bytes compared."""
    import hashlib
    import io
    import pickle

    def canonical(content_hash: str) -> str:
        buffer = io.BytesIO()
        pickler = pickle.Pickler(buffer, protocol=5)
        pickler.fast = True  # no memo: the bytes no longer depend on which objects are shared
        pickler.dump(_without_timings(store.load_pickle(content_hash)))
        return hashlib.sha256(buffer.getvalue()).hexdigest()

    try:
        if not (store.exists(first) and store.exists(second)):
            return False
        if store.describe(first).get("format") != "pickle" or store.describe(second).get("format") != "pickle":
            return False
        return canonical(first) == canonical(second)
    except Exception:  # noqa: BLE001 - not comparable this way (a cycle, a class gone): different
        return False


def compare(original: RunDetail, reproduced: RunDetail, plan: ReproductionPlan,
            tolerance: float = DEFAULT_TOLERANCE, randomness_unseeded: bool = False,
            artifacts: Any = None, during_run_only: bool = False) -> Verdict:
    """``during_run_only``: compare only the metrics logged before the original run ended (a
    re-fit re-creates what the fit logged, not what its caller logged about the model later)."""
    verdict = Verdict(original.run.id, reproduced.run.id, IDENTICAL, tolerance=tolerance, plan=plan)
    if reproduced.run.status != "succeeded":
        verdict.verdict = FAILED
        verdict.error = f"{reproduced.run.error_type or 'Error'}: {reproduced.run.error_message or ''}".strip()
    before, after = _outputs(original), _outputs(reproduced)
    differing_outputs = []
    for name, content_hash in before.items():
        if after.get(name) == content_hash or (
                after.get(name) and artifacts is not None and pickled_alike(artifacts, content_hash, after[name])):
            verdict.identical_outputs.append(name)
        else:
            differing_outputs.append(name)
            verdict.differences.append(Difference("output", name, content_hash, after.get(name)))
    metrics_off = False
    for key, value in original.metrics.items():
        if is_timing(key) or (during_run_only and _after_end(original, key)):
            continue
        new = reproduced.metrics.get(key)
        if new is None:
            metrics_off = True
            verdict.differences.append(Difference("metric", key, value, None))
        elif not (value == new or (math.isnan(value) and math.isnan(new))):
            delta = new - value if math.isfinite(new) and math.isfinite(value) else None
            verdict.differences.append(Difference("metric", key, value, new, delta))
            metrics_off = metrics_off or not _close(value, new, tolerance)
    if verdict.verdict == FAILED:
        pass
    elif not verdict.differences:
        verdict.verdict = IDENTICAL
    elif not metrics_off and original.metrics and all(
            d.kind == "output" and d.reproduced is not None or d.kind == "metric" for d in verdict.differences):
        verdict.verdict = WITHIN_TOLERANCE
    else:
        verdict.verdict = DIFFERENT
    if verdict.verdict != IDENTICAL:
        verdict.likely_causes = _causes(original, reproduced, plan, randomness_unseeded)
    return verdict


def _causes(original: RunDetail, reproduced: RunDetail, plan: ReproductionPlan, unseeded: bool) -> list[str]:
    causes = []
    if plan.unseeded or unseeded:
        causes.append("unseeded randomness: the run drew random numbers without a recorded seed "
                      "(seed it with mdb.seed_everything(...) or a seed/random_state param)")
    before = {io.name: io.artifact.content_hash for io in original.inputs if io.name}
    after = {io.name: io.artifact.content_hash for io in reproduced.inputs if io.name}
    changed = sorted(n for n in before if n in after and before[n] != after[n])
    if changed:
        causes.append("input changed: " + ", ".join(changed))
    if plan.packages or (plan.python_recorded and plan.python_recorded != plan.python_current):
        shown = [f"{p.package} {p.recorded or 'absent'} -> {p.current or 'absent'}" for p in plan.packages]
        if plan.python_recorded != plan.python_current:
            shown.insert(0, f"python {plan.python_recorded} -> {plan.python_current}")
        causes.append("environment difference: " + ", ".join(shown))
    return causes
