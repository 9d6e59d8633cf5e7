"""Record many finished runs at once: imports, backfills, sweeps computed elsewhere.

    from modeldb_core.bulk import log_runs
    ids = log_runs([
        {"name": "rf-1", "params": {"model": "rf", "depth": 9}, "metrics": {"rmse": 0.81},
         "tags": {"team": "pricing"}, "phase": "training"},
        ...
    ], project="pricing")

Every run is validated like a tracked run (keys, phase, status, param values
follow the one param rule) before anything is written; then runs are written
``batch_size`` at a time, each batch in one transaction through the store's
bulk path (thousands of runs a second on SQLite).
"""
from __future__ import annotations

import time
from typing import Any, Iterable, Iterator, Mapping

from . import params as param_rule
from . import validation
from .errors import ValidationError
from .model import Metric, NewRun, Phase, RunStatus

_FIELDS = {"name", "project", "phase", "status", "started_at", "ended_at", "params", "metrics",
           "tags", "user", "host", "orchestrator", "external_id", "pipeline_run_id",
           "parent_run_id", "try_number"}


_PLAIN = (str, int, float)
_PHASES = frozenset(p.value for p in Phase)
_STATUSES = frozenset(s.value for s in RunStatus)


class _Keys:
    """Keys repeat across imported runs: each distinct key is checked once.

    Field names for error messages are only built when a check fails.
    """

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def __call__(self, where: str, kind: str, key: Any) -> str:
        if key.__class__ is str and key in self.seen:
            return key
        validation.key(f"{where}.{kind} key", key)
        self.seen.add(key)
        return key


def _metrics(raw: Any, started: float, where: str, keys: _Keys) -> list[Metric]:
    """``{"rmse": 0.8}``, ``{"loss": [0.9, 0.5, 0.3]}`` (one value per step) or Metric objects."""
    if raw is None:
        return []
    if raw.__class__ is dict or isinstance(raw, Mapping):
        out = []
        for key, value in raw.items():
            keys(where, "metrics", key)
            if value.__class__ is float:
                out.append(Metric(key, value, 0, started))
                continue
            values = value if isinstance(value, (list, tuple)) else [value]
            for step, v in enumerate(values):
                out.append(Metric(key=key, value=_number(f"{where}.metrics.{key}", v), step=step,
                                  timestamp=started))
        return out
    out = []
    for m in raw:
        if not isinstance(m, Metric):
            raise ValidationError(f"{where}.metrics", m, "must be a dict of key -> value(s) or Metric objects")
        keys(where, "metrics", m.key)
        out.append(m)
    return out


def _number(field: str, value: Any) -> float:
    if value.__class__ is float:
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            return float(value)  # numpy scalars
        except (TypeError, ValueError):
            raise ValidationError(field, value, "must be a number") from None
    return float(value)


def _tag(where: str, key: str, value: Any) -> str:
    if value.__class__ is str and len(value) <= validation.MAX_TAG_VALUE and "\x00" not in value:
        return value
    return validation.text(f"{where}.tags.{key}", str(value), validation.MAX_TAG_VALUE)


def to_new_run(record: Mapping[str, Any] | NewRun, *, project: str, now: float, where: str,
               keys: _Keys | None = None) -> NewRun:
    """Validate one record and turn it into a ``NewRun`` (raises ``ValidationError``)."""
    keys = keys or _Keys()
    if record.__class__ is dict:
        pass  # the common case; ABC checks below cost more than the rest of this function
    elif isinstance(record, NewRun):
        record = {k: getattr(record, k) for k in _FIELDS if hasattr(record, k)}
    elif not isinstance(record, Mapping):
        raise ValidationError(where, record, "must be a dict (or a NewRun)")
    if not _FIELDS.issuperset(record):
        unknown = sorted(set(record) - _FIELDS)[0]
        raise ValidationError(where, unknown, f"is not a run field; use {', '.join(sorted(_FIELDS))}")
    started = record.get("started_at")
    started = now if started is None else _number(f"{where}.started_at", started)
    ended = record.get("ended_at")
    status = record.get("status") or RunStatus.SUCCEEDED.value
    if status not in _STATUSES:
        status = validation.status(status)
    phase = record.get("phase")
    if phase is not None and phase not in _PHASES:
        phase = validation.phase(phase)
    if ended is None and status != RunStatus.RUNNING.value:
        ended = started
    params = {keys(where, "params", k): v if v.__class__ in _PLAIN else param_rule.normalize(v)
              for k, v in (record.get("params") or {}).items()}
    tags = {keys(where, "tags", k): _tag(where, k, v) for k, v in (record.get("tags") or {}).items()}
    name = record.get("name") or "run"
    project_name = record.get("project") or project
    return NewRun(
        project=project_name if project_name == project else validation.name(f"{where}.project", project_name),
        name=validation.name(f"{where}.name", name),
        started_at=started, ended_at=None if ended is None else _number(f"{where}.ended_at", ended),
        phase=phase, status=status,
        user=record.get("user"), host=record.get("host"), orchestrator=record.get("orchestrator"),
        external_id=record.get("external_id"), pipeline_run_id=record.get("pipeline_run_id"),
        parent_run_id=record.get("parent_run_id"), try_number=record.get("try_number"),
        params=params, tags=tags, metrics=_metrics(record.get("metrics"), started, where, keys))


def _batches(records: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def log_runs(records: Iterable[Mapping[str, Any] | NewRun], *, project: str | None = None,
             batch_size: int = 10_000, store=None) -> list[str]:
    """Write finished runs in bulk; returns their ids in the order given.

    Each record is a dict with ``name`` and optionally ``project``, ``phase``,
    ``status`` (default succeeded), ``started_at``/``ended_at`` (POSIX
    seconds), ``params``, ``metrics`` (key -> value, or key -> list of values
    by step), ``tags``, ``user``, ``host``, ``orchestrator``, ``external_id``.
    A batch with an invalid record is refused whole, before it is written.
    On SQLite a batch holds the write lock while it is written (about 1.5 s for
    10,000 runs): smaller batches let concurrent trackers in sooner, larger ones
    commit less often.
    """
    from .query import _resolve_store

    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValidationError("batch_size", batch_size, "must be a positive whole number")
    opened, owned = _resolve_store(store)
    if project is None:
        from .client import get_client

        project = get_client().settings.project
    project = validation.name("project", project)
    keys = _Keys()
    ids: list[str] = []
    try:
        now = time.time()
        for batch in _batches(records, batch_size):
            start = len(ids)
            new = [to_new_run(r, project=project, now=now, where=f"runs[{start + i}]", keys=keys)
                   for i, r in enumerate(batch)]
            ids += opened.bulk_create_runs(new)
    finally:
        if owned:
            opened.close()
    return ids


__all__ = ["log_runs", "to_new_run"]
