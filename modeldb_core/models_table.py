"""The models table: one row per trained model (models_view.py), filtered, searched, sorted, grouped.

The same table is served by the web (``/projects/NAME/trained``, its JSON
under ``/api/projects/NAME/trained``) and printed by ``modeldb runs models``.
Its column groups are the ModelDB paper's: IDs, training data,
specification (model type, the hyperparameters that vary), metrics (the
project's main metric first), misc (notes, model file, time).

Filters use the query language of the runs table, read against a model:
``params.*`` are its training params, ``metrics.*`` its metrics (aligned
names: ``metrics.root_mean_squared_error`` is ``metrics.rmse``), ``tags.*``
and run fields (``name``, ``status``, ``started``...) its training run's.

The store applies the rule, the filter, the search, the sort and the page in the
database (``MetadataStore.models_overview`` and ``models_page``); only the models
of the page come back, and a page's cursor carries the sort key of its last model
(keyset), so a later page costs what the first one does.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

from modeldb_core.models_view import (
    ModelGroup, ModelsQuery, TrainedModel, assemble, canonical_metric, metric_names, varying_params,
    version_label,
)

if TYPE_CHECKING:
    from modeldb_core.store import MetadataStore

# What fits the first screen of a laptop (1280 px) next to the IDs and misc columns.
SHOWN_PARAMS = 5
SHOWN_METRICS = 3
# Models on one page of the table (web and ``modeldb runs models``), and the most one page may ask for.
PAGE_SIZE = 100
MAX_PAGE_SIZE = 1_000
MAX_GROUPS = 1_000  # groups shown (by the best first); the rest are counted out


@dataclass
class ModelsTable:
    project: str
    main_metric: str | None
    goal: str  # "min" or "max": the main metric's better direction
    params: list[str]  # the varying training params shown, most often set first
    metrics: list[str]  # the metrics shown, the main one first
    models: list[TrainedModel]
    all_params: list[str] = field(default_factory=list)
    all_metrics: list[str] = field(default_factory=list)
    total: int = 0  # models before the filter and the search
    order: str = ""
    groups: list[dict[str, Any]] | None = None
    group: str = ""
    matched: int = 0  # models the filter and the search kept, on every page
    offset: int = 0  # where this page starts among them
    next_cursor: str | None = None  # the next page, if any
    more_groups: bool = False  # more than MAX_GROUPS groups: the rest left out
    selection: Any = None  # the RunQuery the cursors of this table belong to
    keys: list[tuple] = field(default_factory=list)  # the sort key of each model of the page

    def cursor_at(self, position: int) -> str:
        """The cursor of the page that starts at ``position`` among the matching models: after
        the sort key of the model before it when that one is on this page, else by position."""
        from modeldb_core.query import cursor_at

        index = position - self.offset
        after = self.keys[index - 1] if 1 <= index <= len(self.keys) else None
        return cursor_at(self.selection, position, after=after)

    def rows(self) -> list[dict[str, Any]]:
        return [model.as_dict() for model in self.models]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _group_row(group: ModelGroup, goal: str) -> dict[str, Any]:
    row: dict[str, Any] = {"value": "(none)" if group.value is None else _text(group.value), "models": group.models}
    if group.scored:
        row.update(min=group.minimum, max=group.maximum, mean=group.mean)
        if group.best is not None:
            row["best_model"] = version_label(group.best.artifact, group.best.output_name)
    return row


def project_main_metric(store: "MetadataStore", project: str) -> tuple[str | None, str]:
    """The project's main metric (the rule of the projects page) under its aligned name, and its goal."""
    return _main_metric(store.models_overview(project).project_metrics)


def _main_metric(ranges: dict[str, Any]) -> tuple[str | None, str]:
    from modeldb_core.web.projects import goal, main_metric

    key = main_metric(ranges)
    if key is None:
        return None, "min"
    key = canonical_metric(key)
    return key, goal(key)


def _page_bounds(project: str, filter: str, q: str, order: str, limit: int | None,
                 cursor: str | None) -> tuple[int, tuple | None, int | None, Any]:
    """Where the page starts (its position, and the sort key it starts after), its size and the
    query its cursors belong to; bad values refused (``ValidationError`` naming the limit,
    ``QueryError`` for another table's cursor)."""
    from modeldb_core.errors import ValidationError
    from modeldb_core.query import build_query, cursor_position

    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                              or not 1 <= limit <= MAX_PAGE_SIZE):
        raise ValidationError("limit", limit, f"must be a whole number from 1 to {MAX_PAGE_SIZE:,} "
                                              "(MAX_PAGE_SIZE)")
    # A cursor names this selection: the same project, filter, search and order.
    selection = build_query(filter or None, project=project, search=q or None, order_by=order or None)
    offset, after = cursor_position(selection, cursor) if cursor else (0, None)
    return offset, after, limit, selection


def _aligned(order: Sequence[Any]) -> tuple:
    """Sort keys with metric names aligned (``metrics.root_mean_squared_error`` is ``metrics.rmse``)."""
    from dataclasses import replace

    from modeldb_core.query.fields import METRIC, Field

    return tuple(replace(k, field=Field(METRIC, canonical_metric(k.field.key))) if k.field.kind == METRIC else k
                 for k in order)


def _aligned_filter(node: Any) -> Any:
    """The filter with metric names aligned, for the store to read as the model's metrics."""
    from dataclasses import fields, is_dataclass, replace

    from modeldb_core.query.fields import METRIC, Field

    if isinstance(node, Field):
        return Field(METRIC, canonical_metric(node.key)) if node.kind == METRIC else node
    if isinstance(node, tuple):
        return tuple(_aligned_filter(item) for item in node)
    if is_dataclass(node) and not isinstance(node, type):
        return replace(node, **{f.name: _aligned_filter(getattr(node, f.name)) for f in fields(node)})
    return node


def models_table(store: "MetadataStore", project: str, filter: str = "", q: str = "", order: str = "",
                 group: str = "", params: Sequence[str] = (), metrics: Sequence[str] = (),
                 shown_params: int = SHOWN_PARAMS, shown_metrics: int = SHOWN_METRICS,
                 limit: int | None = PAGE_SIZE, cursor: str | None = None) -> ModelsTable:
    """The models of ``project`` as the table shows them, one page of ``limit`` models
    (``None``: all of them) from ``cursor`` (the ``next_cursor`` of the page before).

    ``params``/``metrics`` choose the columns (default: the varying params, the
    main metric and the metrics most models have); a bad filter, sort or group
    raises ``QueryError`` with its position. Groups count every matching model.
    """
    from modeldb_core.query.language import parse_field

    offset, after, limit, selection = _page_bounds(project, filter, q, order, limit, cursor)
    by = parse_field(group) if group.strip() else None
    overview = store.models_overview(project)
    main, goal = _main_metric(overview.project_metrics)
    names = metric_names(overview.metrics, main)
    table = ModelsTable(
        project=project, main_metric=main if main in names else (names[0] if names else None), goal=goal,
        params=[_key(p) for p in params] or varying_params(overview.params)[:shown_params],
        metrics=[canonical_metric(_key(m)) for m in metrics] or names[:shown_metrics],
        models=[], all_params=sorted(s.key for s in overview.params),
        all_metrics=names, total=overview.total, order=order, group=group)
    if table.main_metric != main:
        table.goal = _goal(table.main_metric)
    page = store.models_page(ModelsQuery(
        project=project, filter=_aligned_filter(selection.filter), search=selection.search,
        order=_aligned(selection.order), main=table.main_metric, goal=table.goal, group=by,
        limit=limit, offset=offset, after=after))
    if page.groups is not None:
        groups = [_group_row(g, table.goal) for g in page.groups]
        table.groups, table.more_groups = groups[:MAX_GROUPS], len(groups) > MAX_GROUPS
    table.matched, table.offset, table.selection = page.matched, offset, selection
    table.models = assemble(store, page.rows, page.model_inputs)
    table.keys = [row.key for row in page.rows]
    if page.more:
        table.next_cursor = table.cursor_at(offset + len(page.rows))
    return table


def _goal(metric: str | None) -> str:
    from modeldb_core.web.projects import goal

    return goal(metric) if metric else "min"


def _key(text: str) -> str:
    """``params.lr`` or ``lr`` -> ``lr``: the prefixes are accepted wherever a key is."""
    for prefix in ("params.", "param.", "metrics.", "metric."):
        if text.startswith(prefix):
            return text[len(prefix):]
    return text


__all__ = ["MAX_PAGE_SIZE", "PAGE_SIZE", "ModelsTable", "models_table", "project_main_metric"]
