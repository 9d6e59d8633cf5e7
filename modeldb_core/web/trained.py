"""The models table of a project (``/projects/NAME/trained``): its JSON and what its page shows.

The table itself (rule, filter, sort, group, search) is ``modeldb_core.models_table``;
this module only encodes it for the API and the template.
"""
from __future__ import annotations

from typing import Any

from modeldb_core.models_table import ModelsTable, models_table
from modeldb_core.store import MetadataStore

from .encode import clip, jsonable

MAX_TEXT = 300  # a note or a param value in the table is cut after this many characters


def table(store: MetadataStore, project: str, filter: str = "", q: str = "", order: str = "",
          group: str = "", params: list[str] | None = None, metrics: list[str] | None = None) -> ModelsTable:
    return models_table(store, project, filter=filter, q=q, order=order, group=group,
                        params=params or (), metrics=metrics or ())


def as_json(t: ModelsTable) -> dict[str, Any]:
    return {
        "project": t.project, "main_metric": t.main_metric, "goal": t.goal,
        "params": t.params, "metrics": t.metrics, "all_params": t.all_params,
        "all_metrics": t.all_metrics, "total": t.total, "count": len(t.models),
        "order": t.order, "group": t.group or None, "groups": jsonable(t.groups),
        "models": clip(jsonable(t.rows()), MAX_TEXT * 10),
    }
