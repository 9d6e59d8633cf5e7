"""The models table of a project (``/projects/NAME/trained``): its JSON and what its page shows.

The table itself (rule, filter, sort, group, search, pages) is ``modeldb_core.models_table``;
this module only encodes it for the API and the template.
"""
from __future__ import annotations

import json
from typing import Any

from modeldb_core.models_table import ModelsTable, models_table
from modeldb_core.store import MetadataStore

from .encode import clip, jsonable

MAX_TEXT = 300  # a note or a param value in the table is cut after this many characters


def table(store: MetadataStore, project: str, filter: str = "", q: str = "", order: str = "",
          group: str = "", params: list[str] | None = None, metrics: list[str] | None = None,
          limit: int | None = None, cursor: str | None = None) -> ModelsTable:
    from modeldb_core.models_table import PAGE_SIZE

    return models_table(store, project, filter=filter, q=q, order=order, group=group,
                        params=params or (), metrics=metrics or (), limit=limit or PAGE_SIZE,
                        cursor=cursor or None)


def as_json(t: ModelsTable) -> dict[str, Any]:
    """One page of the table; cut short past ``MAX_PAGE_BYTES`` (``next_cursor`` then starts at
    the first model left out), as the runs listing is."""
    from .table import MAX_PAGE_BYTES

    models: list[dict[str, Any]] = []
    size, next_cursor = 0, t.next_cursor
    for index, row in enumerate(t.rows()):
        item = clip(jsonable(row), MAX_TEXT * 10)
        size += len(json.dumps(item, default=str))
        if models and size > MAX_PAGE_BYTES:
            next_cursor = t.cursor_at(t.offset + index)
            break
        models.append(item)
    return {
        "project": t.project, "main_metric": t.main_metric, "goal": t.goal,
        "params": t.params, "metrics": t.metrics, "all_params": t.all_params,
        "all_metrics": t.all_metrics, "total": t.total, "matched": t.matched, "offset": t.offset,
        "count": len(models), "next_cursor": next_cursor,
        "order": t.order, "group": t.group or None, "groups": jsonable(t.groups),
        "more_groups": t.more_groups, "models": models,
    }
