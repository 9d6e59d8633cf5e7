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
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

from modeldb_core.models_view import (
    TrainedModel, attach_notes, canonical_metric, metric_names, trained_models, varying_params,
)

if TYPE_CHECKING:
    from modeldb_core.query.fields import Field
    from modeldb_core.store import MetadataStore

# What fits the first screen of a laptop (1280 px) next to the IDs and misc columns.
SHOWN_PARAMS = 5
SHOWN_METRICS = 3
# Models on one page of the table (web and ``modeldb runs models``), and the most one page may ask for.
PAGE_SIZE = 100
MAX_PAGE_SIZE = 1_000
MAX_GROUPS = 1_000  # groups shown (by the best first); the rest are counted out
_MISSING = object()


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

    def cursor_at(self, position: int) -> str:
        """The cursor of the page that starts at ``position`` among the matching models."""
        from modeldb_core.query import cursor_at

        return cursor_at(self.selection, position)

    def rows(self) -> list[dict[str, Any]]:
        return [model.as_dict() for model in self.models]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def field_value(model: TrainedModel, f: "Field") -> Any:
    """What a filter or a sort reads of a model for ``f``; ``None`` when it has none."""
    from modeldb_core.query.fields import ATTR, METRIC, PARAM, TAG

    if f.kind == PARAM:
        return model.params.get(f.key)
    if f.kind == METRIC:
        return model.metrics.get(canonical_metric(f.key))
    if f.kind == TAG:
        return model.training.tags.get(f.key)
    if f.kind == ATTR:
        run = model.training.run
        if f.key == "id":
            return str(run.id)
        if f.key == "duration":
            return run.duration
        if f.key == "parent":
            return run.parent_run_id
        return getattr(run, f.attribute.column, None)
    return None


def _like(pattern: str, text: str) -> bool:
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, flags=re.DOTALL) is not None


def _compare(left: Any, op: str, right: Any) -> bool:
    if left is None:
        return False
    if op in ("like", "notlike"):
        return _like(_text(right), _text(left)) == (op == "like")
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (left, right))
    if not numbers:
        left, right = _text(left), _text(right)
    elif isinstance(left, float) and math.isnan(left):
        return op == "!="
    if op == "=":
        return left == right
    if op == "!=":
        return left != right
    try:
        return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]
    except TypeError:
        return False


def matches(model: TrainedModel, node: Any) -> bool:
    """Whether ``model`` satisfies a parsed filter (``modeldb_core.query.language``)."""
    from modeldb_core.query.language import And, Compare, In, IsNull, Not, Or

    if node is None:
        return True
    if isinstance(node, And):
        return all(matches(model, item) for item in node.items)
    if isinstance(node, Or):
        return any(matches(model, item) for item in node.items)
    if isinstance(node, Not):
        return not matches(model, node.item)
    if isinstance(node, IsNull):
        return (field_value(model, node.field) is None) != node.negated
    if isinstance(node, In):
        value = field_value(model, node.field)
        found = value is not None and any(_compare(value, "=", v) for v in node.values)
        return found != node.negated if value is not None else False
    if isinstance(node, Compare):
        return _compare(field_value(model, node.field), node.op, node.value)
    raise TypeError(f"not a filter node: {node!r}")


def searched(model: TrainedModel, words: str) -> bool:
    """Free text: every word is in the model's name, type, runs' names, notes, params or tags."""
    haystack = " ".join([
        model.label, model.model_type, model.training.name, model.file,
        *(e.name for e in model.evaluations), *(n.text for n in model.notes),
        *(f"{k}={_text(v)}" for k, v in model.params.items()),
        *(f"{k}={v}" for k, v in model.training.tags.items()),
    ]).casefold()
    return all(word in haystack for word in words.casefold().split())


def _sorted(models: list[TrainedModel], order: str, main: str | None, goal: str) -> list[TrainedModel]:
    from modeldb_core.query.language import parse_sort

    keys = parse_sort(order) if order.strip() else \
        ([] if main is None else [_main_key(main, goal)])
    if not keys:
        return sorted(models, key=lambda m: m.trained_at, reverse=True)
    out = list(models)
    for key in reversed(keys):  # stable sorts, last key first
        present = [m for m in out if field_value(m, key.field) is not None]
        missing = [m for m in out if field_value(m, key.field) is None]
        numeric = all(isinstance(field_value(m, key.field), (int, float)) for m in present)
        present.sort(key=lambda m: field_value(m, key.field) if numeric else _text(field_value(m, key.field)),
                     reverse=key.descending)
        out = present + missing  # missing values last, either way
    return out


def _main_key(main: str, goal: str):
    from modeldb_core.query.fields import Field
    from modeldb_core.query.language import SortKey

    return SortKey(Field("metric", main), descending=goal == "max")


def _grouped(models: list[TrainedModel], by: "Field", main: str | None, goal: str) -> list[dict[str, Any]]:
    groups: dict[str, list[TrainedModel]] = {}
    for model in models:
        value = field_value(model, by)
        groups.setdefault("(none)" if value is None else _text(value), []).append(model)
    out = []
    for value, members in groups.items():
        row: dict[str, Any] = {"value": value, "models": len(members)}
        scores = [m.metrics[main] for m in members if main and main in m.metrics
                  and not math.isnan(m.metrics[main])]
        if scores:
            row.update(min=min(scores), max=max(scores), mean=sum(scores) / len(scores))
            best = (min if goal == "min" else max)(scores)
            row["best_model"] = next(m.label for m in members if m.metrics.get(main) == best)
        out.append(row)
    if main:
        worst = math.inf if goal == "min" else -math.inf
        out.sort(key=lambda g: g.get("min" if goal == "min" else "max", worst), reverse=goal == "max")
    return out


def project_main_metric(store: "MetadataStore", project: str) -> tuple[str | None, str]:
    """The project's main metric (the rule of the projects page) under its aligned name, and its goal."""
    from modeldb_core.web.projects import goal, main_metric

    for summary in store.project_summaries():
        if summary.project.name == project:
            key = main_metric(summary.metrics)
            if key is None:
                return None, "min"
            key = canonical_metric(key)
            return key, goal(key)
    from modeldb_core.errors import NotFoundError

    raise NotFoundError("project", project)


def _page_bounds(project: str, filter: str, q: str, order: str, limit: int | None,
                 cursor: str | None) -> tuple[int, int | None, Any]:
    """Where the page starts, its size and the query its cursors belong to; bad values refused
    (``ValidationError`` naming the limit, ``QueryError`` for another table's cursor)."""
    from modeldb_core.errors import ValidationError
    from modeldb_core.query import build_query, cursor_offset

    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                              or not 1 <= limit <= MAX_PAGE_SIZE):
        raise ValidationError("limit", limit, f"must be a whole number from 1 to {MAX_PAGE_SIZE:,} "
                                              "(MAX_PAGE_SIZE)")
    # A cursor names this selection: the same project, filter, search and order.
    selection = build_query(filter or None, project=project, search=q or None, order_by=order or None)
    return (cursor_offset(selection, cursor) if cursor else 0), limit, selection


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
    from modeldb_core.query.language import parse_field, parse_filter

    offset, limit, selection = _page_bounds(project, filter, q, order, limit, cursor)
    main, goal = project_main_metric(store, project)
    node = parse_filter(filter)
    by = parse_field(group) if group.strip() else None
    # Notes are read for the models a search looks through, else for the page shown only.
    everything = trained_models(store, project, notes=bool(q.strip()))
    chosen = [m for m in everything if matches(m, node) and (not q.strip() or searched(m, q))]
    varying = varying_params(everything)
    names = metric_names(everything, main)
    table = ModelsTable(
        project=project, main_metric=main if main in names else (names[0] if names else None), goal=goal,
        params=[_key(p) for p in params] or varying[:shown_params],
        metrics=[canonical_metric(_key(m)) for m in metrics] or names[:shown_metrics],
        models=[], all_params=sorted({k for m in everything for k in m.params}),
        all_metrics=names, total=len(everything), order=order, group=group)
    if table.main_metric != main:
        table.goal = _goal(table.main_metric)
    ranked = _sorted(chosen, order, table.main_metric, table.goal)
    if by is not None:
        groups = _grouped(ranked, by, table.main_metric, table.goal)
        table.groups, table.more_groups = groups[:MAX_GROUPS], len(groups) > MAX_GROUPS
    table.matched, table.offset, table.selection = len(ranked), offset, selection
    end = len(ranked) if limit is None else offset + limit
    table.models = ranked[offset:end]
    if not q.strip():
        attach_notes(store, table.models)
    if end < len(ranked):
        table.next_cursor = table.cursor_at(end)
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


__all__ = ["MAX_PAGE_SIZE", "PAGE_SIZE", "ModelsTable", "field_value", "matches", "models_table", "project_main_metric", "searched"]
