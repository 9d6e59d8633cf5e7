"""Search runs: the one query layer under the CLI, the Python API and the web UI.

    import modeldb_core
    page = modeldb_core.search_runs('metrics.rmse < 0.9 and params.model = "rf"',
                                    order_by="metrics.rmse", limit=20)
    for rec in page.runs:
        print(rec.id, rec.params["model"], rec.metrics["rmse"])
    page.to_dataframe()          # with pandas installed
    more = modeldb_core.search_runs(..., cursor=page.next_cursor)

The filter language is described in ``modeldb_core.query.language``. The
search is compiled by the store into one parameterized SQL statement.
Importing this package is cheap: it loads no database code until a search runs.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from modeldb_core.errors import QueryError, ValidationError

from .fields import Field
from .language import SortKey, parse_field, parse_filter, parse_sort
from .records import MetricStats, RunGroup, RunPage, RunQuery, RunRecord

if TYPE_CHECKING:
    from modeldb_core.store import MetadataStore

MAX_LIMIT = 1_000_000
MAX_CURSOR = 1_000  # characters: a position is about 40, a sort key (keyset) a few hundred
MAX_SEARCH = 1_000  # characters of free-text search
MAX_GROUP_METRICS = 8  # metrics aggregated by one group-by (each is one join)
SortSpec = "str | list[str] | None"


def build_query(filter: str | None = None, *, project: str | None = None, search: str | None = None,
                order_by: str | Sequence[str] | None = None) -> RunQuery:
    """Parse the pieces of a search into a ``RunQuery`` (raises ``QueryError`` on bad input)."""
    if project is not None and not isinstance(project, str):
        raise ValidationError("project", project, "must be a project name")
    if search is not None and not isinstance(search, str):
        raise ValidationError("search", search, "must be text")
    if search is not None and len(search) > MAX_SEARCH:
        raise ValidationError("search", search, f"is {len(search):,} characters long; the limit is "
                                                f"{MAX_SEARCH:,} (MAX_SEARCH)")
    if project is not None:
        from modeldb_core.validation import MAX_NAME

        if len(project) > MAX_NAME:
            raise ValidationError("project", project, f"is {len(project):,} characters long; "
                                                      f"the limit is {MAX_NAME}")
    return RunQuery(filter=parse_filter(filter), project=project,
                    search=search if search and search.strip() else None,
                    order=tuple(parse_sort(order_by)), text=filter)


def _resolve_store(store: Any) -> tuple["MetadataStore", bool]:
    """The store to search and whether we opened it (and must close it): the client's, or the
    one a URI names, read as the client reads (``modeldb_core.reading``: after what processes
    that just exited handed off)."""
    if store is None:
        from modeldb_core.client import get_client

        return get_client().store, False
    if isinstance(store, str):
        from modeldb_core.config import normalize_uri
        from modeldb_core.reading import StoreReader

        return StoreReader(uri=normalize_uri(store)).get(), True
    return store, False


def _fingerprint(query: RunQuery) -> str:
    return hashlib.sha256(repr(query).encode()).hexdigest()[:16]


def _encode_cursor(query: RunQuery, offset: int, after: Sequence[Any] | None = None) -> str:
    body: dict[str, Any] = {"o": offset, "q": _fingerprint(query)}
    if after is not None:
        body["k"] = list(after)
    encoded = base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).decode().rstrip("=")
    if after is not None and len(encoded) > MAX_CURSOR:  # a long text in the sort key: by position
        return _encode_cursor(query, offset)
    return encoded


def _decode_cursor(query: RunQuery, cursor: str) -> tuple[int, tuple | None]:
    if not isinstance(cursor, str) or len(cursor) > MAX_CURSOR:
        raise QueryError(f"not a cursor returned by search_runs: {str(cursor)[:40]!r}")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        body = json.loads(base64.urlsafe_b64decode(padded.encode()))
        offset, fingerprint = int(body["o"]), str(body["q"])
        after = body.get("k")
        if after is not None and not isinstance(after, list):
            raise TypeError("not a sort key")
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError, AttributeError):
        raise QueryError(f"not a cursor returned by search_runs: {cursor[:40]!r}") from None
    if fingerprint != _fingerprint(query) or offset < 0:
        raise QueryError("this cursor belongs to a different search (filter, project, search "
                         "and order_by must stay the same between pages)")
    return offset, (tuple(after) if after is not None else None)


def cursor_at(query: RunQuery, offset: int, after: Sequence[Any] | None = None) -> str:
    """The cursor of the page of ``query`` that starts at ``offset`` (a page cut short); with
    ``after``, the sort key of the row before it, so the page can be found by its key (keyset)."""
    return _encode_cursor(query, offset, after)


def cursor_offset(query: RunQuery, cursor: str) -> int:
    """Where the page of ``cursor`` starts (raises ``QueryError`` for another search's cursor)."""
    return _decode_cursor(query, cursor)[0]


def cursor_position(query: RunQuery, cursor: str) -> tuple[int, tuple | None]:
    """Where the page of ``cursor`` starts and the sort key it starts after, if it carries one."""
    return _decode_cursor(query, cursor)


def _check_limit(limit: Any) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValidationError("limit", limit, f"must be a whole number from 1 to {MAX_LIMIT}")
    return limit


def search_runs(filter: str | None = None, *, project: str | None = None, search: str | None = None,
                order_by: str | list[str] | None = None, limit: int = 100, cursor: str | None = None,
                store=None) -> RunPage:
    """Runs matching ``filter``, sorted by ``order_by``, one page at a time.

    ``filter``: e.g. ``metrics.rmse < 0.9 and params.model = "rf"``. ``search``:
    free text over run names, notes and tags. ``order_by``: ``"metrics.rmse"``,
    ``"-metrics.rmse"`` / ``"metrics.rmse desc"``, several keys comma-separated or
    as a list; missing values sort last; default newest first. ``cursor``: the
    ``next_cursor`` of the previous page. ``store``: a store or URI (default:
    the configured one).
    """
    limit = _check_limit(limit)
    query = build_query(filter, project=project, search=search, order_by=order_by)
    offset = _decode_cursor(query, cursor)[0] if cursor else 0
    opened, owned = _resolve_store(store)
    try:
        records = opened.search_runs(query, limit=limit + 1, offset=offset)
    finally:
        if owned:
            opened.close()
    more = len(records) > limit
    return RunPage(runs=records[:limit],
                   next_cursor=_encode_cursor(query, offset + limit) if more else None)


def stream_runs(filter: str | None = None, *, project: str | None = None, search: str | None = None,
                order_by: str | list[str] | None = None, batch: int = 1000,
                store=None) -> Iterator[RunRecord]:
    """Every matching run, read from the database ``batch`` at a time (constant memory)."""
    query = build_query(filter, project=project, search=search, order_by=order_by)
    opened, owned = _resolve_store(store)
    try:
        yield from opened.stream_runs(query, batch=batch)
    finally:
        if owned:
            opened.close()


def group_runs(group_by: str, filter: str | None = None, *, metrics: str | Sequence[str] = (),
               project: str | None = None, search: str | None = None,
               store=None) -> list[RunGroup]:
    """Runs grouped by a param, tag or run field, with count/min/max/mean of ``metrics`` per group.

    ``group_runs("params.model", "phase = 'training'", metrics=["rmse"])``
    """
    if isinstance(metrics, str):
        metrics = [m.strip() for m in metrics.split(",") if m.strip()]
    metrics = list(metrics)
    if len(metrics) > MAX_GROUP_METRICS:
        raise QueryError(f"{len(metrics)} metrics to aggregate; the limit is {MAX_GROUP_METRICS} "
                         f"(MAX_GROUP_METRICS)")
    keys = [_metric_key(m) for m in metrics]
    by = parse_field(group_by)
    query = build_query(filter, project=project, search=search)
    opened, owned = _resolve_store(store)
    try:
        return opened.group_runs(query, by, keys)
    finally:
        if owned:
            opened.close()


def _metric_key(name: str) -> str:
    """``rmse`` or ``metrics.rmse`` -> ``rmse``."""
    if not isinstance(name, str) or not name.strip():
        raise ValidationError("metric", name, "must be a metric name such as rmse")
    name = name.strip()
    if name.startswith(("metrics.", "metric.")):
        field = parse_field(name)
        return field.key
    return name


def best_run(metric: str, *, maximize: bool = False, filter: str | None = None,
             project: str | None = None, store=None) -> RunRecord | None:
    """The run with the lowest (or, with ``maximize``, highest) latest value of ``metric``.

    Runs whose latest value is NaN, or that never logged the metric, are not candidates.
    """
    from .language import And, Compare

    key = _metric_key(metric)
    field = Field("metric", key)
    has_value = Compare(field, ">=", -math.inf)
    user = parse_filter(filter)
    query = RunQuery(filter=has_value if user is None else And((user, has_value)), project=project,
                     order=(SortKey(field, descending=maximize),))
    opened, owned = _resolve_store(store)
    try:
        found = opened.search_runs(query, limit=1)
    finally:
        if owned:
            opened.close()
    return found[0] if found else None


__all__ = ["Field", "MetricStats", "RunGroup", "RunPage", "RunQuery", "RunRecord", "SortKey",
           "best_run", "build_query", "cursor_at", "cursor_offset", "cursor_position", "group_runs", "parse_filter", "parse_sort", "search_runs",
           "stream_runs"]
