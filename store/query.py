"""Compile a parsed run search into ONE parameterized SQLAlchemy Core statement.

A keyed field (``params.model``, ``metrics.rmse``...) that is sorted on is one
join of its table on ``(run_id, key)``: an inner join when the filter requires
the field (a comparison at its top level), else an outer join so that "missing
values last" works. A keyed field that is only filtered on is a correlated
EXISTS on the same primary key. Either way there is no query per run. Every
value from the user is a bound parameter; keys are bound too. Nothing here
builds SQL text. (One case takes more statements, see ``_segments``: a sort
on a metric, tag or param that some runs lack, once a page reaches past the
runs that have it.)

The page's params, latest metrics and tags are then read in batches of run
ids (one query per table per 500 runs), never per run.
"""
from __future__ import annotations

import json
import math
from typing import Any, Iterable, Iterator, Sequence

from sqlalchemy import (
    and_, bindparam, exists, false, func, not_, or_, select, true,
)
from sqlalchemy.engine import Connection

from modeldb_core.errors import QueryError
from modeldb_core.model import Run
from modeldb_core.query.fields import ATTR, METRIC, PARAM, TAG, Field
from modeldb_core.query.language import (
    And, Compare, In, IsNull, Node, Not, Or, SortKey, conjuncts, required_fields,
)
from modeldb_core.query.records import MetricStats, RunGroup, RunQuery, RunRecord

from . import deadline
from . import schema as t

_KEYED = {PARAM: t.params, METRIC: t.latest_metrics, TAG: t.tags}
# Run columns that are never NULL: sorting on them needs no "missing last" term.
_NOT_NULL = {"id", "name", "status", "started_at", "project"}
BATCH = 500
# Keyed fields joined in one statement (sort keys, a group-by and its metrics). SQLite 3.40
# crashes the whole process at about 36 outer joins; the parser allows 8 sort keys, and this
# guards every other way of reaching the compiler.
MAX_JOINS = 16
# Groups returned by one group-by (one more is read to say there are more).
MAX_GROUPS = 1_000
# Top-level conditions on keyed fields beyond which SQLite gets them as one (see where()).
BUNDLE_AFTER = 16


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _Compiler:
    """Keyed fields that are sorted on (or grouped/aggregated) are joined once; keyed
    fields that are only filtered on become correlated ``EXISTS`` on their
    ``(run_id, key)`` primary key. That lets the database walk the sort key's
    ``(key, value)`` index in order and stop at the page's last row, instead of
    collecting every run that passes a broad filter and sorting them all.
    """

    def __init__(self, query: RunQuery, joined: Iterable[Field] = (), bundle: bool = False):
        self.query = query
        self.bundle = bundle
        self.required = required_fields(query.filter)
        named = [*joined, *(k.field for k in query.order)]
        self.joined = dict.fromkeys(f for f in named if f.kind != ATTR)
        self.aliases: dict[Field, Any] = {}
        self.joins: list[tuple[Any, Any, bool]] = []

    # -- joins -----------------------------------------------------------
    def alias(self, f: Field):
        found = self.aliases.get(f)
        if found is None:
            if len(self.aliases) >= MAX_JOINS:
                raise QueryError(f"this search sorts or groups on more than {MAX_JOINS} params, "
                                 f"metrics and tags (the limit, MAX_JOINS = {MAX_JOINS})")
            table = _KEYED[f.kind]
            found = table.alias(f"{f.kind[0]}{len(self.aliases)}")
            on = and_(found.c.run_id == t.runs.c.id, found.c.key == f.key)
            self.joins.append((found, on, f in self.required))
            self.aliases[f] = found
        return found

    def from_clause(self):
        joined = t.runs.join(t.projects, t.projects.c.id == t.runs.c.project_id)
        for alias, on, inner in self.joins:
            joined = joined.join(alias, on, isouter=not inner)
        return joined

    # -- columns -----------------------------------------------------------
    @staticmethod
    def attribute(f: Field):
        column = f.attribute.column
        if column == "project":
            return t.projects.c.name
        if column == "duration":
            return t.runs.c.ended_at - t.runs.c.started_at
        if column == "pipeline":
            return (select(t.pipelines.c.name)
                    .join(t.pipeline_runs, t.pipeline_runs.c.pipeline_id == t.pipelines.c.id)
                    .where(t.pipeline_runs.c.id == t.runs.c.pipeline_run_id)
                    .scalar_subquery())
        return t.runs.c[column]

    # -- predicates ----------------------------------------------------------
    def keyed(self, f: Field, condition) -> Any:
        """``condition(row)`` on the field's row: on the joined alias, or inside EXISTS."""
        if f in self.joined:
            a = self.alias(f)
            return condition(a)
        row = _KEYED[f.kind].alias()
        return exists().where(row.c.run_id == t.runs.c.id, row.c.key == f.key, condition(row))

    def predicate(self, node: Node):
        if isinstance(node, And):
            return and_(*[self.predicate(n) for n in node.items])
        if isinstance(node, Or):
            return or_(*[self.predicate(n) for n in node.items])
        if isinstance(node, Not):
            # Two-valued: ``not X`` matches every run X does not match, including runs
            # without the field (where SQL's NULL would drop them), whether the field
            # is joined or tested with EXISTS.
            return not_(func.coalesce(self.predicate(node.item), false()))
        if isinstance(node, IsNull):
            f = node.field
            if f.kind == ATTR:
                column = self.attribute(f)
                return column.is_not(None) if node.negated else column.is_(None)
            if f in self.joined:
                column = self.alias(f).c.run_id
                return column.is_not(None) if node.negated else column.is_(None)
            present = self.keyed(f, lambda row: true())
            return present if node.negated else not_(present)
        if isinstance(node, In):
            return self.membership(node)
        return self.comparison(node)

    def membership(self, node: In):
        f = node.field
        if f.kind == ATTR:
            column = self.attribute(f)
            test = column.in_(list(node.values))
            # ``not in`` keeps SQL's rule: a run without the field matches neither.
            return and_(column.is_not(None), not_(test)) if node.negated else test
        return self.keyed(f, lambda row: _membership(row, f, node))

    def comparison(self, node: Compare):
        f = node.field
        if f.kind == ATTR:
            return _apply(self.attribute(f), node.op, node.value)
        return self.keyed(f, lambda row: _comparison(row, f, node.op, node.value))

    # -- statement -----------------------------------------------------------
    def where(self):
        q = self.query
        parts = []
        if q.filter is not None:
            items = list(conjuncts(q.filter))
            on_runs = [i for i in items if isinstance(i, (Compare, In, IsNull)) and i.field.kind == ATTR]
            rest = [i for i in items if not any(i is r for r in on_runs)]
            if self.bundle and len(rest) > BUNDLE_AFTER:
                # SQLite lowers its row estimate for every top-level condition; after some 60
                # it expects a handful of rows, reads every run through another index and sorts
                # them (50,000 runs: 6 ms -> 35 s; 200 'not' terms: 7 minutes). Only conditions
                # on the run's own columns can drive the scan of runs: past a few, the others
                # become ONE condition.
                parts += [self.predicate(i) for i in on_runs]
                parts.append(and_(*[self.predicate(i) for i in rest]).is_(true()))
            else:
                parts.append(self.predicate(q.filter))
        if q.project is not None:
            parts.append(t.projects.c.name == q.project)
        if q.search:
            parts.append(_search(q.search))
        return parts

    def order_by(self) -> list:
        keys: list[SortKey] = list(self.query.order)
        clauses = []
        for key in keys:
            for column, nullable in self.sort_columns(key.field):
                clause = column.desc() if key.descending else column.asc()
                clauses.append(clause.nulls_last() if nullable else clause)
        last_desc = keys[0].descending if keys else True
        if not keys or keys[-1].field != Field(ATTR, "id"):
            clauses.append(t.runs.c.id.desc() if last_desc else t.runs.c.id.asc())
        return clauses

    def sort_columns(self, f: Field) -> list[tuple[Any, bool]]:
        required = f in self.required
        if f.kind == PARAM:
            a = self.alias(f)
            # Numbers first (in numeric order), then text, then runs without the param.
            # Compared with a number, every row has a number: no NULLs to put last, so
            # PostgreSQL may walk (key, value_num) backwards for a descending sort too.
            return [(a.c.value_num, not _compared_with_a_number(self.query.filter, f)),
                    (a.c.value_text, not required)]
        if f.kind in (METRIC, TAG):
            return [(self.alias(f).c.value, not required)]
        column = f.attribute.column
        return [(self.attribute(f), not required and column not in _NOT_NULL)]

    def select_runs(self):
        # Every alias must exist before the FROM clause is built.
        for f in self.joined:
            self.alias(f)
        where = self.where()
        order = self.order_by()
        stmt = (select(t.runs, t.projects.c.name.label("project"))
                .select_from(self.from_clause()).order_by(*order))
        if where:
            stmt = stmt.where(*where)
        return stmt


def _compared_with_a_number(node: Node | None, f: Field) -> bool:
    """Whether the filter's top level compares param ``f`` with a number (so it has one)."""
    return any(isinstance(item, Compare) and item.field == f and item.op not in ("like", "notlike")
               and _is_number(item.value) for item in conjuncts(node))


def _membership(row, f: Field, node: In):
    if f.kind == PARAM:
        numbers = [float(v) for v in node.values if _is_number(v)]
        texts = [_param_text(v) for v in node.values if not _is_number(v)]
        parts = []
        if numbers:
            parts.append(row.c.value_num.in_(numbers))
        if texts:
            parts.append(_text_in(row, texts))
        test, present = or_(*parts), row.c.run_id.is_not(None)
    elif f.kind == METRIC:
        test, present = row.c.value.in_([float(v) for v in node.values]), row.c.value.is_not(None)
    else:
        test, present = row.c.value.in_(list(node.values)), row.c.value.is_not(None)
    return and_(present, not_(test)) if node.negated else test


def _comparison(row, f: Field, op: str, value: Any):
    if f.kind == PARAM:
        if op in ("like", "notlike"):
            return _apply(row.c.value_text, op, value)
        if _is_number(value):
            value = float(value)
            if math.isnan(value):
                return false() if op != "!=" else row.c.value_num.is_not(None)
            return _apply(row.c.value_num, op, value)
        if op == "=":
            return _text_in(row, [_param_text(value)])
        return _apply(row.c.value_text, op, _param_text(value))
    if f.kind == METRIC:
        value = float(value)
        if math.isnan(value):
            # NaN equals nothing, not even NaN, except through the stored flag.
            if op == "=":
                return row.c.is_nan == true()
            if op == "!=":
                return and_(row.c.run_id.is_not(None), row.c.is_nan == false())
            return false()
        return _apply(row.c.value, op, value)
    return _apply(row.c.value, op, value)


def _text_in(params, texts: list[str]):
    """Params whose text is one of ``texts``. A number's text (its JSON) is not in the (key,
    value_text) index (revision 0013), only in (key, value_num): the rows that are not numbers
    are found through the first, and a text that is a number's (``"0.5"``) through the second."""
    parts = [and_(params.c.value_num.is_(None), _one_of(params.c.value_text, texts))]
    for text in texts:
        number = _finite_number(text)
        if number is not None:
            parts.append(and_(params.c.value_num == number, params.c.value_text == text))
    return or_(*parts)


def _one_of(column, values: list[str]):
    return column == values[0] if len(values) == 1 else column.in_(values)


def _finite_number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _param_text(value: Any) -> str:
    # How encode_param stores a non-number: strings as they are, the rest as JSON.
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _apply(column, op: str, value: Any):
    if op == "=":
        return column == value
    if op == "!=":
        return column != value
    if op == "<":
        return column < value
    if op == "<=":
        return column <= value
    if op == ">":
        return column > value
    if op == ">=":
        return column >= value
    if op == "like":
        # Case-insensitive on both databases (PostgreSQL's LIKE is not).
        return column.ilike(value)
    if op == "notlike":
        return column.not_ilike(value)
    raise QueryError(f"unknown operator {op!r}")


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _search(text: str):
    """Free text over run names, notes, tag keys and tag values (case-insensitive)."""
    pattern = f"%{_escape_like(text.strip())}%"
    return or_(
        t.runs.c.name.ilike(pattern, escape="\\"),
        exists().where(t.notes.c.run_id == t.runs.c.id, t.notes.c.text.ilike(pattern, escape="\\")),
        exists().where(t.tags.c.run_id == t.runs.c.id,
                       or_(t.tags.c.value.ilike(pattern, escape="\\"),
                           t.tags.c.key.ilike(pattern, escape="\\"))),
    )


def compile_search(query: RunQuery, limit: int | None = None, offset: int = 0, dialect: str = ""):
    """The one statement that selects the matching runs, sorted, paged."""
    stmt = _Compiler(query, bundle=dialect == "sqlite").select_runs()
    if limit is not None:
        stmt = stmt.limit(limit)
    if offset:
        stmt = stmt.offset(offset)
    return stmt


# -- reading results -------------------------------------------------------


def _metric_value(value: float | None, is_nan: bool) -> float:
    return math.nan if is_nan or value is None else value


def param_value(value_json: str, value_text: str, value_num: float | None) -> Any:
    """The param as logged, from its stored forms; skips the JSON parser for the common cases."""
    if value_json[:1] == '"':
        return value_text  # strings are stored as themselves in value_text
    if value_num is not None:
        if "." in value_json or "e" in value_json or "E" in value_json:
            return value_num
        return int(value_json)
    return json.loads(value_json)


# Built once: per page only the list of ids changes, bound as one expanding parameter
# (an ``in_()`` of literal ids would coerce every id on every call).
_PAGE_IDS = bindparam("page_ids", expanding=True)
_PARAMS_OF_PAGE = (select(t.params.c.run_id, t.params.c.key, t.params.c.value_json,
                          t.params.c.value_text, t.params.c.value_num)
                   .where(t.params.c.run_id.in_(_PAGE_IDS)).order_by(t.params.c.run_id, t.params.c.key))
_METRICS_OF_PAGE = (select(t.latest_metrics.c.run_id, t.latest_metrics.c.key, t.latest_metrics.c.value,
                           t.latest_metrics.c.is_nan)
                    .where(t.latest_metrics.c.run_id.in_(_PAGE_IDS))
                    .order_by(t.latest_metrics.c.run_id, t.latest_metrics.c.key))
_TAGS_OF_PAGE = (select(t.tags.c.run_id, t.tags.c.key, t.tags.c.value)
                 .where(t.tags.c.run_id.in_(_PAGE_IDS)).order_by(t.tags.c.run_id, t.tags.c.key))


def attach(conn: Connection, runs: Sequence[Run]) -> list[RunRecord]:
    """Params, latest metrics and tags of ``runs``: one query per table per batch."""
    out: list[RunRecord] = []
    for start in range(0, len(runs), BATCH):
        chunk = runs[start:start + BATCH]
        ids = [r.key for r in chunk]
        bound = {"page_ids": ids}
        params: dict[int, dict[str, Any]] = {i: {} for i in ids}
        metrics: dict[int, dict[str, float]] = {i: {} for i in ids}
        tags: dict[int, dict[str, str]] = {i: {} for i in ids}
        for run_id, key, value_json, value_text, value_num in _driver_rows(conn, _PARAMS_OF_PAGE, bound):
            params[run_id][key] = param_value(value_json, value_text, value_num)
        for run_id, key, value, is_nan in _driver_rows(conn, _METRICS_OF_PAGE, bound):
            metrics[run_id][key] = _metric_value(value, is_nan)
        for run_id, key, value in _driver_rows(conn, _TAGS_OF_PAGE, bound):
            tags[run_id][key] = value
        out += [RunRecord(run=r, params=params[r.key], metrics=metrics[r.key], tags=tags[r.key])
                for r in chunk]
    return out


def _driver_rows(conn: Connection, stmt, bound: dict[str, Any] | None = None) -> list[tuple]:
    """All rows of ``stmt`` as the driver's own tuples, in one fetch.

    The columns read here need no conversion on either database, and building
    a SQLAlchemy ``Row`` for each of a page's thousand param values costs more
    than reading them.
    """
    result = conn.execute(stmt, bound)
    try:
        return _checked(conn, result.cursor.fetchall)
    finally:
        result.close()


def _checked(conn: Connection, read):
    """``read()``, with a driver error from a deadline or a cancellation made a ModelDB error.

    The driver's own cursor is read here, outside SQLAlchemy's error handling.
    """
    try:
        return read()
    except Exception as exc:
        stopped = deadline.translate(exc, conn)
        if stopped is not None:
            raise stopped from None
        raise


def _runs(conn: Connection, stmt) -> list[Run]:
    result = conn.execute(stmt)
    try:
        names = list(result.keys())
        return [Run.from_row(zip(names, row)) for row in _checked(conn, result.cursor.fetchall)]
    finally:
        result.close()


def _segments(query: RunQuery) -> list[RunQuery] | None:
    """A search sorted first on a metric, tag or param the filter does not require, split.

    Sorting such a search with "missing values last" needs an outer join, which
    no index can order: every matching run would be read and sorted. Split, the
    runs that have a value are an inner join that walks the (key, value) index
    and stops at the page's end; the runs after them (without a value, with
    NaN, or for a param, with a value that is not a number: those sort after
    the numbers) are read only when a page reaches past the ones before.
    """
    if not query.order:
        return None
    first = query.order[0].field
    if first.kind not in (METRIC, TAG, PARAM) or first in required_fields(query.filter):
        return None
    base = () if query.filter is None else (query.filter,)

    def part(*nodes: Node) -> RunQuery:
        return RunQuery(And((*base, *nodes)), query.project, query.search, query.order)

    if first.kind == PARAM:
        number = Compare(first, ">=", -math.inf)
        return [part(number), part(IsNull(first, negated=True), Not(number)), part(IsNull(first))]
    has_value: Node = (Compare(first, ">=", -math.inf) if first.kind == METRIC
                       else IsNull(first, negated=True))
    return [part(has_value), part(Not(has_value))]


def search(conn: Connection, query: RunQuery, limit: int | None, offset: int = 0) -> list[RunRecord]:
    segments = _segments(query) if limit is not None else None
    if segments is None:
        return attach(conn, _runs(conn, compile_search(query, limit, offset, conn.dialect.name)))
    runs: list[Run] = []
    skip = offset
    for index, segment in enumerate(segments):
        found = _runs(conn, compile_search(segment, limit - len(runs), skip, conn.dialect.name))
        runs += found
        if len(runs) >= limit or index == len(segments) - 1:
            break
        if found:
            skip = 0  # the page went through the rest of this segment
        elif skip:  # the page starts after this segment: how many runs does it hold?
            counted = select(func.count()).select_from(compile_search(segment, dialect=conn.dialect.name).subquery())
            skip = max(skip - conn.execute(counted).scalar_one(), 0)
    return attach(conn, runs)


def stream(conn: Connection, query: RunQuery, batch: int = 1000) -> Iterator[RunRecord]:
    """Every matching run, read ``batch`` rows at a time (server-side cursor on PostgreSQL)."""
    # Per statement, not on the connection: the page queries of attach() must stay plain.
    result = conn.execute(compile_search(query, dialect=conn.dialect.name), execution_options={"yield_per": batch})
    partitions = result.partitions()
    while True:
        rows = _checked(conn, lambda: next(partitions, None))
        if rows is None:
            return
        yield from attach(conn, [Run.from_row(row._mapping) for row in rows])


def group(conn: Connection, query: RunQuery, by: Field, metrics: Iterable[str],
          limit: int | None = MAX_GROUPS + 1) -> list[RunGroup]:
    """Count runs and aggregate metrics per value of ``by``, in one statement (at most ``limit`` groups)."""
    if by.kind == METRIC:
        raise QueryError(f"cannot group by {by}: group by a param, a tag or a run field "
                         "(status, phase, project...) and aggregate metrics")
    metric_keys = list(dict.fromkeys(metrics))
    compiler = _Compiler(query, joined=[by, *(Field(METRIC, k) for k in metric_keys)],
                         bundle=conn.dialect.name == "sqlite")
    if by.kind == PARAM:
        a = compiler.alias(by)
        key_column = a.c.value_json
        order = [func.max(a.c.value_num).asc().nulls_last(), key_column.asc().nulls_last()]
    elif by.kind == TAG:
        key_column = compiler.alias(by).c.value
        order = [key_column.asc().nulls_last()]
    else:
        key_column = compiler.attribute(by)
        order = [key_column.asc().nulls_last()]
    columns = [key_column.label("group_value"), func.count(t.runs.c.id).label("runs")]
    for i, key in enumerate(metric_keys):
        value = compiler.alias(Field(METRIC, key)).c.value
        columns += [func.count(value).label(f"n{i}"), func.min(value).label(f"lo{i}"),
                    func.max(value).label(f"hi{i}"), func.avg(value).label(f"avg{i}")]
    where = compiler.where()
    stmt = select(*columns).select_from(compiler.from_clause()).group_by(key_column).order_by(*order)
    if where:
        stmt = stmt.where(*where)
    if limit is not None:
        stmt = stmt.limit(limit)
    groups = []
    for row in _checked(conn, lambda: list(conn.execute(stmt))):
        value = row.group_value
        if by.kind == PARAM and value is not None:
            value = json.loads(value)
        stats = {}
        for i, key in enumerate(metric_keys):
            mean = row._mapping[f"avg{i}"]
            stats[key] = MetricStats(count=row._mapping[f"n{i}"], min=row._mapping[f"lo{i}"],
                                     max=row._mapping[f"hi{i}"],
                                     mean=float(mean) if mean is not None else None)
        groups.append(RunGroup(value=value, count=row.runs, metrics=stats))
    return groups


__all__ = ["attach", "compile_search", "group", "search", "stream"]


# -- artifacts -------------------------------------------------------------


def list_artifacts(conn: Connection, search: str | None = None, kind: str | None = None,
                   limit: int = 100) -> list[dict[str, Any]]:
    """Artifacts with their number of versions and their newest version, newest first."""
    av = t.artifact_versions
    newest = (select(av.c.artifact_id, func.count(av.c.id).label("versions"),
                     func.max(av.c.id).label("latest_version_id"))
              .group_by(av.c.artifact_id).subquery())
    stmt = (select(t.artifacts.c.id, t.artifacts.c.uri, t.artifacts.c.kind, newest.c.versions,
                   newest.c.latest_version_id, av.c.content_hash, av.c.size, av.c.created_at)
            .join(newest, newest.c.artifact_id == t.artifacts.c.id)
            .join(av, av.c.id == newest.c.latest_version_id)
            .order_by(newest.c.latest_version_id.desc()).limit(limit))
    if search:
        stmt = stmt.where(t.artifacts.c.uri.ilike(f"%{_escape_like(search)}%", escape="\\"))
    if kind:
        stmt = stmt.where(t.artifacts.c.kind == kind)
    return [dict(row._mapping) for row in conn.execute(stmt)]


def artifact_uses(conn: Connection, version_ids: Sequence[int]) -> list[dict[str, Any]]:
    """Which runs wrote (output) and read (input) each artifact version."""
    out: list[dict[str, Any]] = []
    ids = list(version_ids)
    for start in range(0, len(ids), BATCH):
        chunk = ids[start:start + BATCH]
        stmt = (select(t.run_io.c.artifact_version_id, t.run_io.c.direction, t.run_io.c.name,
                       t.runs.c.uuid.label("run_id"), t.runs.c.name.label("run_name"),
                       t.runs.c.status, t.runs.c.started_at)
                .join(t.runs, t.runs.c.id == t.run_io.c.run_id)
                .where(t.run_io.c.artifact_version_id.in_(chunk))
                .order_by(t.run_io.c.artifact_version_id, t.run_io.c.direction.desc(), t.runs.c.id))
        out += [dict(row._mapping) for row in conn.execute(stmt)]
    return out
