"""Hyperparameter searches: one child run per candidate, the best one marked.

For a fitted ``GridSearchCV``, ``RandomizedSearchCV``, ``HalvingGridSearchCV``
or ``HalvingRandomSearchCV`` (anything with ``cv_results_``), each row of
``cv_results_`` becomes a finished child run of the search's run, written in
one bulk insert:

- params: the candidate's parameters (``estimator__alpha`` style keys, as in
  ``param_grid``);
- metrics: every numeric ``mean_*``, ``std_*`` and ``rank_*`` column
  (``mean_test_score``, ``std_test_score``, ``rank_test_score``,
  ``mean_fit_time``...; ``_<scorer>`` for multi-metric searches), the per-fold
  scores as one series per scorer (``test_score`` / ``train_score``, step = fold);
  halving searches add ``n_resources``;
- tags: ``sklearn.candidate_index``, ``sklearn.search_iteration`` (halving),
  and ``sklearn.best_candidate = "true"`` on the row of ``best_index_``;
- status ``failed`` when the candidate's mean test score is NaN (its fits
  failed and ``error_score`` stood in).

The search's own run gets ``best_score`` (metric), ``best_params.<name>``
(params) and the tags ``sklearn.best_index`` and ``sklearn.best_run_id``.
"""
from __future__ import annotations

import math
import re
import time
from typing import Any

from ..model import Metric, RunStatus
from .describe import param_value

_SPLIT = re.compile(r"^split(\d+)_(test|train)_(.+)$")


def is_search(estimator: Any) -> bool:
    return hasattr(estimator, "cv_results_") and hasattr(estimator, "best_index_") or (
        type(estimator).__name__.endswith(("SearchCV",)) and hasattr(estimator, "cv_results_"))


def _index(value: Any) -> int | None:
    """``best_index_`` as a plain int (it is a numpy integer, or absent without refit)."""
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number


def candidate_runs(search: Any, context: dict[str, Any], max_runs: int | None) -> list[dict[str, Any]]:
    """What each recorded candidate's child run holds (params, metrics, tags, status, times)."""
    results = search.cv_results_
    candidates = list(results["params"])
    best_index = _index(getattr(search, "best_index_", None))
    rank_key = "rank_test_score" if "rank_test_score" in results else next(
        (k for k in results if k.startswith("rank_test_")), None)
    order = list(range(len(candidates)))
    if max_runs is not None and len(order) > max_runs:
        if rank_key is not None:
            order.sort(key=lambda i: (results[rank_key][i], i))
        order = sorted(set(order[:max_runs]) | ({best_index} if best_index is not None else set()))
    scalar_keys = [k for k in results if k.startswith(("mean_", "std_", "rank_")) or k == "n_resources"]
    split_keys = [(k, _SPLIT.match(k)) for k in results]
    split_keys = [(k, m) for k, m in split_keys if m]
    now = time.time()
    splits = int(getattr(search, "n_splits_", 1) or 1)
    runs = []
    for i in order:
        metrics = []
        for key in scalar_keys:
            value = _number(results[key][i])
            if value is not None:
                metrics.append(Metric(key, value, 0, now))
        for key, match in split_keys:
            value = _number(results[key][i])
            if value is not None:
                metrics.append(Metric(f"{match.group(2)}_{match.group(3)}", value, int(match.group(1)), now))
        tags = {"sklearn.candidate_index": str(i), "sklearn.search": type(search).__name__,
                "sklearn.autolog": "true"}
        if "iter" in results:
            tags["sklearn.search_iteration"] = str(int(results["iter"][i]))
        if i == best_index:
            tags["sklearn.best_candidate"] = "true"
        mean = _number(results[rank_key.replace("rank_", "mean_")][i]) if rank_key else None
        failed = mean is not None and math.isnan(mean)
        params = {k: param_value(v) for k, v in candidates[i].items() if isinstance(k, str)}
        # A candidate's duration is its compute time: fit and score over every fold.
        seconds = sum(_number(results[k][i]) or 0.0 for k in ("mean_fit_time", "mean_score_time") if k in results)
        seconds = seconds * splits if seconds == seconds else 0.0
        runs.append({"index": i, "params": params, "tags": tags, "metrics": metrics,
                     "ended_at": min(context["started_at"] + seconds, now),
                     "status": RunStatus.FAILED.value if failed else RunStatus.SUCCEEDED.value})
    return runs


def record(search: Any, run: Any, context: dict[str, Any], max_runs: int | None) -> list[str]:
    """Record the candidates as child runs of ``run`` and mark the best on ``run``; returns the child ids."""
    from ..run import start_run

    best_index = _index(getattr(search, "best_index_", None))
    if hasattr(search, "best_score_"):
        value = _number(search.best_score_)
        if value is not None:
            run.log_metric("best_score", value)
    best_params = getattr(search, "best_params_", None)
    if isinstance(best_params, dict):
        run.log_params({f"best_params.{k}": param_value(v) for k, v in best_params.items() if isinstance(k, str)})
    if best_index is not None:
        run.set_tag("sklearn.best_index", str(best_index))
    if run.id is None:
        return []
    ids = []
    for candidate in candidate_runs(search, context, max_runs):
        child = start_run(f"{run.name} candidate {candidate['index']}", project=run.project, phase="training",
                          params=candidate["params"], tags=candidate["tags"], parent=run,
                          pipeline_run_id=run.pipeline_run_id, code=context.get("code"),
                          started_at=context["started_at"], client=run.client)
        for metric in candidate["metrics"]:
            child.log_metric(metric.key, metric.value, step=metric.step, timestamp=metric.timestamp)
        child.end(candidate["status"], ended_at=candidate["ended_at"])
        ids.append(child.id)
        if candidate["tags"].get("sklearn.best_candidate") == "true":
            run.set_tag("sklearn.best_run_id", str(child.id))
    if ids:
        run.set_tag("sklearn.candidates", str(len(search.cv_results_["params"])))
    return ids
