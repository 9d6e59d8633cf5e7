"""The projects overview and a project's charts.

A project's *main metric* is not declared anywhere, so it is inferred: the
metric recorded by the most evaluation runs (then by the most runs), ties
going to well-known names (rmse before accuracy before ...). Whether lower is
better is read from its name (loss, error, mse, mae ... are minimised). The
project page lets the user pick any other metric.
"""
from __future__ import annotations

from typing import Any

from modeldb_core.model import MetricRange, ProjectSummary, RunPoint
from modeldb_core.store import MetadataStore

from .encode import jsonable, number

_LOWER_IS_BETTER = ("loss", "error", "mse", "mae", "mape", "perplexity", "latency", "duration",
                    "seconds", "wer", "cer")
_WELL_KNOWN = ("rmse", "accuracy", "f1", "roc_auc", "auc", "r2", "mae", "mse", "log_loss", "loss",
               "precision", "recall")


def goal(metric: str) -> str:
    """``"min"`` when a lower value of ``metric`` is better, else ``"max"``."""
    name = metric.lower()
    return "min" if any(word in name for word in _LOWER_IS_BETTER) else "max"


def main_metric(metrics: dict[str, MetricRange]) -> str | None:
    if not metrics:
        return None

    def rank(key: str) -> tuple:
        r = metrics[key]
        known = _WELL_KNOWN.index(key.lower()) if key.lower() in _WELL_KNOWN else len(_WELL_KNOWN)
        return (-r.evaluation_runs, -r.runs, known, key)

    return min(metrics, key=rank)


def best(r: MetricRange, direction: str) -> float | None:
    return r.minimum if direction == "min" else r.maximum


# Projects on one page of the overview and of /api/projects, and the most a page may ask for.
PAGE_SIZE = 100
MAX_PAGE_SIZE = 1_000
# A project lists this many of its metric names (the rest are counted in ``metrics_total``).
MAX_METRIC_NAMES = 200


def summary_row(s: ProjectSummary) -> dict[str, Any]:
    key = main_metric(s.metrics)
    main = None
    if key is not None:
        direction = goal(key)
        main = {"key": key, "goal": direction, "best": best(s.metrics[key], direction)}
    return {"name": s.project.name, "id": s.project.id, "description": s.project.description,
            "runs": s.runs, "pipelines": s.pipelines, "last_activity": s.last_activity,
            "orchestrators": s.orchestrators, "main_metric": main,
            "metrics": sorted(s.metrics)[:MAX_METRIC_NAMES], "metrics_total": len(s.metrics)}


def summaries(store: MetadataStore, offset: int = 0, limit: int = PAGE_SIZE) -> dict[str, Any]:
    """One page of the projects, by name: ``projects``, ``total``, ``offset`` and ``more``
    (``{"offset": ...}`` of the next page, or None), as the lineage and metric series page."""
    from modeldb_core.errors import ValidationError

    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValidationError("offset", offset, "must be 0 or more")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValidationError("limit", limit, f"must be a whole number from 1 to {MAX_PAGE_SIZE:,}")
    found = store.project_summaries()
    end = offset + limit
    return {"projects": [summary_row(s) for s in found[offset:end]], "total": len(found),
            "offset": offset, "more": {"offset": end} if end < len(found) else None}


def summary(store: MetadataStore, name: str) -> dict[str, Any]:
    from modeldb_core.errors import NotFoundError

    for s in store.project_summaries():
        if s.project.name == name:
            row = summary_row(s)
            row["keys"] = store.key_names(name)
            return row
    raise NotFoundError("project", name)


def points(store: MetadataStore, project: str, metric: str, limit: int = 10_000,
           params: bool | list[str] = False) -> dict[str, Any]:
    """The chart points of a project, oldest run first, as columns.

    One list per field (``run_id[i]``, ``value[i]``... describe point ``i``):
    10,000 points encode several times faster than 10,000 objects.
    """
    from modeldb_core.models_view import trainer_ids, training_runs

    found: list[RunPoint] = store.run_points(project, metric, limit=limit, with_params=params)
    # An evaluation's point carries the params of the run that trained the model it read
    # (docs/models.md): its own are file paths. Training runs are read for the points shown only.
    if params:
        records = training_runs(store, project, among=[p.run_id for p in found])
        trainers = {reader: str(record.id) for reader, record in records.items()}
        for p in found:
            trainer = records.get(p.run_id)
            if trainer is not None:
                p.params = dict(trainer.params) if params is True else \
                    {k: v for k, v in trainer.params.items() if k in params}
    else:
        trainers = trainer_ids(store, project)
    columns: dict[str, Any] = {
        "run_id": [p.run_id for p in found],
        "name": [p.name for p in found],
        "status": [p.status for p in found],
        "started_at": [p.started_at for p in found],
        "value": [number(p.value) for p in found],
        "trained_by": [trainers.get(p.run_id) for p in found],
    }
    if params:
        columns["params"] = [jsonable(p.params) for p in found]
    return {"project": project, "metric": metric, "goal": goal(metric), "count": len(found),
            "points": columns}
