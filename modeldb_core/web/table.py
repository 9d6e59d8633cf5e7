"""The runs table: its state (all in the URL), columns, rows, groups.

Filtering, sorting, grouping and free-text search are the query layer's
(``modeldb_core.query``); this module only turns the URL into its arguments
and its answer into cells.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from modeldb_core.errors import QueryError
from modeldb_core.store import MetadataStore

from modeldb_core.presentation import short_hash

from .encode import clip, duration, jsonable, show, when

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_GROUPS = 1_000
# An answer of /api/runs stops before this many bytes; its next_cursor starts at the first run left out.
MAX_PAGE_BYTES = 2 * 1024 * 1024
# Text values in a listing are cut after this many characters.
MAX_VALUE_CHARS = 2_000
# Columns that are not params, metrics or tags: key -> (label, sort expression or None).
BASE_COLUMNS: dict[str, tuple[str, str | None]] = {
    "id": ("Id", "id"),
    "name": ("Name", "name"),
    "project": ("Project", "project"),
    "phase": ("Phase", "phase"),
    "status": ("Status", "status"),
    "orchestrator": ("Orchestrator", "orchestrator"),
    "external_id": ("External id", "external_id"),
    "inputs": ("Input data", None),
    "notes": ("Notes", None),
    "started_at": ("Started (UTC)", "started_at"),
    "ended_at": ("Ended (UTC)", "ended_at"),
    "duration": ("Duration", "duration"),
    "user": ("User", "user"),
}
DEFAULT_BASE = ["id", "name", "phase", "status", "orchestrator", "inputs", "notes", "started_at",
                "duration"]
KEY_COLUMNS = 3  # params and metrics shown by default (the most common on the page)


@dataclass
class TableState:
    project: str | None = None
    filter: str = ""
    q: str = ""
    order: str = ""
    group: str = ""
    cols: list[str] = field(default_factory=list)
    cursor: str | None = None
    limit: int = DEFAULT_LIMIT

    def params(self) -> dict[str, Any]:
        """The URL query of this state (what makes a view shareable)."""
        return {"project": self.project, "filter": self.filter, "q": self.q, "order": self.order,
                "group": self.group, "cols": ",".join(self.cols) if self.cols else None,
                "cursor": self.cursor, "limit": self.limit if self.limit != DEFAULT_LIMIT else None}


def parse_order(order: str) -> tuple[str, bool]:
    """``"metrics.rmse desc"`` -> (``"metrics.rmse"``, descending)."""
    parts = order.strip().split()
    if not parts:
        return "", False
    return parts[0], len(parts) > 1 and parts[1].lower() == "desc"


def search(store: MetadataStore, state: TableState):
    """One page of runs from the query layer (raises QueryError on a bad filter or sort).

    Grouped, the group field sorts first, so each group's runs sit together
    (and pages cut through groups, never mix them up).
    """
    from modeldb_core.query import build_query, search_runs

    from .service import search_slot

    query = build_query(state.filter or None, project=state.project, search=state.q or None,
                        order_by=_order(state))
    with search_slot(query):
        return search_runs(state.filter or None, project=state.project, search=state.q or None,
                           order_by=_order(state), limit=state.limit, cursor=state.cursor, store=store)


def _order(state: TableState) -> str | None:
    if state.group:
        return f"{state.group}, {state.order}" if state.order else state.group
    return state.order or None


def bounded_page(state: TableState, page) -> dict[str, Any]:
    """The JSON of one page of runs, cut short (with a cursor to the rest) past ``MAX_PAGE_BYTES``."""
    import json

    from modeldb_core.query import build_query, cursor_at, cursor_offset

    runs: list[dict[str, Any]] = []
    size = 0
    next_cursor = page.next_cursor
    for index, r in enumerate(page.runs):
        item = {"run": clip(jsonable(r.run), MAX_VALUE_CHARS), "params": clip(jsonable(r.params), MAX_VALUE_CHARS),
                "metrics": jsonable(r.metrics), "tags": clip(dict(r.tags), MAX_VALUE_CHARS)}
        size += len(json.dumps(item, default=str))
        if runs and size > MAX_PAGE_BYTES:
            query = build_query(state.filter or None, project=state.project, search=state.q or None,
                                order_by=_order(state))
            start = cursor_offset(query, state.cursor) if state.cursor else 0
            next_cursor = cursor_at(query, start + index)
            break
        runs.append(item)
    return {"runs": runs, "next_cursor": next_cursor}


def _literal(value: Any) -> str | None:
    """``value`` written in the filter language (None: it has no literal)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return None


def group_filter(state: TableState, value: Any) -> str | None:
    """The filter that narrows the table to one group."""
    from modeldb_core.query import parse_field

    field = str(parse_field(state.group))
    if value is None:
        condition = f"{field} is null"
    else:
        literal = _literal(value)
        if literal is None:
            return None
        condition = f"{field} = {literal}"
    return f"({state.filter}) and {condition}" if state.filter.strip() else condition


def groups(store: MetadataStore, state: TableState, metrics: list[str] = ()) -> list[dict[str, Any]]:
    """The groups of the whole result (not just this page), with metric aggregates."""
    from modeldb_core.query import group_runs

    from modeldb_core.query import build_query

    from .service import search_slot

    with search_slot(build_query(state.filter or None, project=state.project, search=state.q or None)):
        found = group_runs(state.group, state.filter or None, metrics=list(metrics),
                           project=state.project, search=state.q or None, store=store)
    out = []
    for g in found:
        aggregates = {}
        for key, stats in g.metrics.items():
            if stats.count:
                aggregates[f"{key} mean"] = stats.mean
                aggregates[f"{key} min"] = stats.min
                aggregates[f"{key} max"] = stats.max
        out.append({"value": jsonable(g.value), "count": g.count, "aggregates": jsonable(aggregates),
                    "filter": group_filter(state, g.value)})
    return out


def _cells(row, extras) -> dict[str, Any]:
    run = row.run
    inputs, notes = extras
    cells: dict[str, Any] = {
        "id": run.id, "name": run.name, "project": run.project, "phase": run.phase or "",
        "status": run.status, "orchestrator": run.orchestrator or "",
        "external_id": run.external_id or "",
        "inputs": [{"name": i.name, "uri": clip(i.artifact.uri, MAX_VALUE_CHARS),
                    "short_hash": short_hash(i.artifact.content_hash),
                    "artifact_version_id": i.artifact.id} for i in inputs],
        "notes": clip(" / ".join(n.text for n in notes), MAX_VALUE_CHARS),
        "started_at": when(run.started_at), "ended_at": when(run.ended_at),
        "duration": duration(run.duration), "user": run.user or "",
    }
    for prefix, values in (("params", row.params), ("metrics", row.metrics), ("tags", row.tags)):
        for key, value in values.items():
            cells[f"{prefix}.{key}"] = show(value, MAX_VALUE_CHARS)
    return cells


_KEYS_TTL = 30.0
_keys_cache: dict[tuple[int, str | None], tuple[float, dict[str, list[str]]]] = {}


def known_keys(store: MetadataStore, project: str | None) -> dict[str, list[str]]:
    """The param, metric and tag keys the column chooser and group-by offer.

    Keys change rarely and listing them scans the key columns, so they are
    kept for a few seconds per store and project.
    """
    import time

    from modeldb_core.errors import NotFoundError

    now = time.monotonic()
    key = (id(store), project)
    cached = _keys_cache.get(key)
    if cached is None or now - cached[0] > _KEYS_TTL:
        try:
            found = store.key_names(project)
        except NotFoundError:
            found = {"params": [], "metrics": [], "tags": []}
        if len(_keys_cache) > 256:
            _keys_cache.clear()
        _keys_cache[key] = cached = (now, found)
    return cached[1]


def _pathlike(value: Any) -> bool:
    return isinstance(value, str) and ("://" in value or value.startswith("/"))


def _main_metric(rows) -> str | None:
    """The main metric of the runs on the page, by the projects page's rule (projects.main_metric)."""
    from modeldb_core.model import MetricRange

    from .projects import main_metric

    counts: dict[str, list[int]] = {}
    for row in rows:
        for key in row.metrics:
            seen = counts.setdefault(key, [0, 0])
            seen[0] += 1
            seen[1] += row.phase == "evaluation"
    return main_metric({k: MetricRange(runs=n, evaluation_runs=e, minimum=None, maximum=None)
                        for k, (n, e) in counts.items()})


def _default_columns(rows) -> list[str]:
    """The base columns, the params that vary on the page, the main metric and the metrics most runs have.

    A param whose value differs between the runs shown comes before one that
    is the same everywhere (a hyperparameter before a library default); params
    holding paths or URIs (artifact references) are already in "Input data".
    The main metric (projects.main_metric: the one most evaluation runs logged)
    comes first among the metrics.
    """
    params: Counter = Counter()
    values: dict[str, set[str]] = {}
    paths: set[str] = set()
    metrics: Counter = Counter()
    for row in rows:
        params.update(row.params.keys())
        metrics.update(row.metrics.keys())
        paths.update(k for k, v in row.params.items() if _pathlike(v))
        for k, v in row.params.items():
            values.setdefault(k, set()).add(show(v, 200))
    chosen_params = sorted(params, key=lambda k: (k in paths, len(values[k]) < 2, -params[k], k))[:KEY_COLUMNS]
    main = _main_metric(rows)
    chosen_metrics = sorted(metrics, key=lambda k: (k != main, -metrics[k], k))[:KEY_COLUMNS]
    return (DEFAULT_BASE[:6] + [f"params.{k}" for k in chosen_params]
            + [f"metrics.{k}" for k in chosen_metrics] + DEFAULT_BASE[6:])


# Columns that describe a run rather than compare runs: chosen ones stay at the right, after
# the params and metrics the user added.
_TRAILING = ("inputs", "notes", "started_at", "ended_at", "duration", "user")


def _in_reading_order(chosen: list[str]) -> list[str]:
    return [c for c in chosen if c not in _TRAILING] + [c for c in chosen if c in _TRAILING]


def _mark_groups(state: TableState, records, out: dict[str, Any]) -> None:
    """Give the first row of each group a header: its value and run count."""
    from modeldb_core.query import parse_field

    field = parse_field(state.group)
    counts = {show(g["value"]) if g["value"] is not None else None: g["count"]
              for g in out["groups"] or []}
    previous: Any = object()
    for record, row in zip(records, out["rows"]):
        value = record.value(field)
        shown = show(value) if value is not None else None
        if shown != previous:
            row["group_header"] = {"value": shown, "count": counts.get(shown)}
            previous = shown


def column(key: str) -> dict[str, Any]:
    if key in BASE_COLUMNS:
        label, sort = BASE_COLUMNS[key]
        return {"key": key, "label": label, "sort": sort, "group": None}
    prefix, _, name = key.partition(".")
    return {"key": key, "label": name, "group": prefix, "sort": key}


def table(store: MetadataStore, state: TableState) -> dict[str, Any]:
    """Everything the runs page shows; a bad filter comes back as ``error``, not raised."""
    out: dict[str, Any] = {"state": state, "rows": [], "next_cursor": None, "error": None,
                           "groups": None, "columns": [], "available": []}
    try:
        page = search(store, state)
        if state.group:
            # Aggregates of the main metric first, whatever columns are shown.
            main = _main_metric(page.runs)
            shown_metrics = [c.split(".", 1)[1] for c in (state.cols or _default_columns(page.runs))
                             if c.startswith("metrics.")]
            out["groups"] = groups(store, state, list(dict.fromkeys([*([main] if main else []),
                                                                       *shown_metrics]))[:3])
    except QueryError as exc:
        out["error"] = {"message": exc.message, "text": exc.text, "position": exc.position,
                        "full": str(exc)}
        page = None
    rows = list(page.runs) if page else []
    extras = store.inputs_and_notes([r.run.id for r in rows]) if rows else {}
    chosen = _in_reading_order(state.cols) if state.cols else _default_columns(rows)
    if not state.cols and not state.project:
        chosen.insert(2, "project")  # runs of every project: say whose they are
    seen: dict[str, None] = dict.fromkeys(BASE_COLUMNS)
    for prefix, keys in known_keys(store, state.project).items():
        seen.update(dict.fromkeys(f"{prefix}.{k}" for k in keys))
    seen.update(dict.fromkeys(chosen))
    out["columns"] = [column(k) for k in chosen]
    out["available"] = [column(k) for k in seen]
    out["rows"] = [_cells(r, extras.get(r.run.id, ([], []))) for r in rows]
    if state.group and rows:
        _mark_groups(state, rows, out)
    out["next_cursor"] = page.next_cursor if page else None
    return out
