"""The fields a filter, a sort or a group-by can name.

A field is either an attribute of the run (``status``, ``started``...), or a
keyed value: ``params.<key>``, ``metrics.<key>``, ``tags.<key>``. Keys that
are not plain words are quoted: ``params."learning rate"``.
"""
from __future__ import annotations

from dataclasses import dataclass

from modeldb_core.model import Phase, RunStatus

PARAM, METRIC, TAG, ATTR = "param", "metric", "tag", "attr"

# How a prefix is written -> the field kind. Singular forms are accepted too.
PREFIXES = {"params": PARAM, "param": PARAM, "metrics": METRIC, "metric": METRIC,
            "tags": TAG, "tag": TAG}

TEXT, NUMBER, TIME = "text", "number", "time"


@dataclass(frozen=True)
class Attribute:
    """A column of the run (or its project) that filters and sorts can use."""

    name: str
    column: str
    type: str
    choices: tuple[str, ...] = ()


_ATTRIBUTES = [
    Attribute("id", "uuid", TEXT),
    Attribute("name", "name", TEXT),
    Attribute("project", "project", TEXT),
    Attribute("pipeline", "pipeline", TEXT),
    Attribute("phase", "phase", TEXT, tuple(p.value for p in Phase)),
    Attribute("status", "status", TEXT, tuple(s.value for s in RunStatus)),
    Attribute("started", "started_at", TIME),
    Attribute("ended", "ended_at", TIME),
    Attribute("duration", "duration", NUMBER),
    Attribute("user", "user", TEXT),
    Attribute("host", "host", TEXT),
    Attribute("orchestrator", "orchestrator", TEXT),
    Attribute("external_id", "external_id", TEXT),
    Attribute("try_number", "try_number", NUMBER),
    Attribute("pipeline_run", "pipeline_run_id", NUMBER),
    Attribute("parent", "parent_uuid", TEXT),
    Attribute("error", "error_type", TEXT),
    Attribute("error_message", "error_message", TEXT),
]

ATTRIBUTES: dict[str, Attribute] = {a.name: a for a in _ATTRIBUTES}
# Other spellings people reach for.
ALIASES = {"started_at": "started", "ended_at": "ended", "start_time": "started",
           "end_time": "ended", "run_id": "id", "run_name": "name", "pipeline_run_id": "pipeline_run",
           "parent_run_id": "parent", "parent_run": "parent", "error_type": "error",
           "state": "status"}


@dataclass(frozen=True)
class Field:
    """A named field; ``kind`` is param, metric, tag or attr."""

    kind: str
    key: str

    @property
    def attribute(self) -> Attribute:
        return ATTRIBUTES[self.key]

    def __str__(self) -> str:
        if self.kind == ATTR:
            return self.key
        plain = self.key.replace("_", "a").replace(".", "a").replace("-", "a").replace("/", "a")
        key = self.key if plain.isalnum() else '"' + self.key.replace('"', '\\"') + '"'
        return f"{self.kind}s.{key}"


def attribute_field(name: str) -> Field | None:
    name = ALIASES.get(name, name)
    return Field(ATTR, name) if name in ATTRIBUTES else None


def known_fields_hint() -> str:
    names = ", ".join(a.name for a in _ATTRIBUTES)
    return f"params.<key>, metrics.<key>, tags.<key>, or one of: {names}"
