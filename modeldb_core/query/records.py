"""What a search asks for and what it returns: plain dataclasses, no database."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterator

from modeldb_core.model import Run

from .language import Node, SortKey
from .fields import Field


@dataclass(frozen=True)
class RunQuery:
    """A parsed search: filter, project, free text and sort keys."""

    filter: Node | None = None
    project: str | None = None
    search: str | None = None
    order: tuple[SortKey, ...] = ()
    # The filter as written: what a remote store (``modeldb server``) sends to be parsed there.
    text: str | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class RunRecord:
    """A run with its params, the latest value of each metric, and its tags."""

    run: Run
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> int:
        return self.run.id

    @property
    def name(self) -> str:
        return self.run.name

    @property
    def status(self) -> str:
        return self.run.status

    @property
    def phase(self) -> str | None:
        return self.run.phase

    @property
    def project(self) -> str | None:
        return self.run.project

    def value(self, f: Field) -> Any:
        """The value of a field for this run (``None`` when it has none)."""
        if f.kind == "param":
            return self.params.get(f.key)
        if f.kind == "metric":
            return self.metrics.get(f.key)
        if f.kind == "tag":
            return self.tags.get(f.key)
        attr = f.attribute
        if attr.column == "duration":
            return self.run.duration
        if attr.column == "pipeline":
            return None
        return getattr(self.run, attr.column)

    def to_dict(self) -> dict[str, Any]:
        """One flat row: run columns, then ``params.x``, ``metrics.x``, ``tags.x``."""
        r = self.run
        row: dict[str, Any] = {
            "id": r.id, "project": r.project, "name": r.name, "phase": r.phase, "status": r.status,
            "started_at": r.started_at, "ended_at": r.ended_at, "duration": r.duration,
            "user": r.user, "host": r.host, "orchestrator": r.orchestrator,
            "pipeline_run_id": r.pipeline_run_id, "parent_run_id": r.parent_run_id,
        }
        row.update({f"params.{k}": v for k, v in self.params.items()})
        row.update({f"metrics.{k}": v for k, v in self.metrics.items()})
        row.update({f"tags.{k}": v for k, v in self.tags.items()})
        return row


def records_dataframe(records: list[RunRecord]):
    """A pandas DataFrame of records, one row per run (needs pandas)."""
    from modeldb_core.extras import require

    pd = require("pandas", "sklearn", "to_dataframe()")
    return pd.DataFrame([rec.to_dict() for rec in records])


@dataclass(frozen=True)
class RunPage:
    """One page of a search; pass ``next_cursor`` back to get the next one (``None``: last page)."""

    runs: list[RunRecord]
    next_cursor: str | None = None

    def __iter__(self) -> Iterator[RunRecord]:
        return iter(self.runs)

    def __len__(self) -> int:
        return len(self.runs)

    def __getitem__(self, index: int) -> RunRecord:
        return self.runs[index]

    def to_dataframe(self):
        return records_dataframe(self.runs)


@dataclass(frozen=True)
class MetricStats:
    """A metric over the runs of a group (runs without it, or NaN, are not counted)."""

    count: int
    min: float | None
    max: float | None
    mean: float | None


@dataclass(frozen=True)
class RunGroup:
    """The runs sharing one value of the group-by field (``None``: runs without it)."""

    value: Any
    count: int
    metrics: dict[str, MetricStats] = field(default_factory=dict)

    def to_dict(self, by: str = "value") -> dict[str, Any]:
        row: dict[str, Any] = {by: self.value, "runs": self.count}
        for key, stats in self.metrics.items():
            row[f"{key}.count"] = stats.count
            row[f"{key}.min"] = stats.min
            row[f"{key}.max"] = stats.max
            row[f"{key}.mean"] = stats.mean
        return row


def finite_or_none(value: float | None) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value
