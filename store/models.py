"""The models table in SQL: the rule of ``modeldb_core/models_view.py`` (docs/models.md) as statements.

A model is an output edge (``run_io``) of a run of the project whose artifact is of kind
``model``, or that a ``training`` run wrote (in-memory values and folders excepted), kept
for its first writer only; the writer is the *training run*, joined as ``runs`` itself, so
that the run search's compiler (``store/query.py``) reads ``params.*``, ``tags.*`` and run
fields of a model as its training run's. A model's metric is a correlated value: the
latest evaluation's (a run that read the model) under any spelling of the aligned name, the
short name first, else the training run's.

A page is ONE statement: filter, search, sort, the page after the cursor's sort key
(keyset), its size, and the count of every match. The overview
(how many models, their params and metric names, the project's metric ranges) is one
more, grouped statement; a grouping one more. Nothing is read per model, and nothing
about the models off the page comes back to Python.
"""
from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any, Sequence

from sqlalchemy import Float, String, and_, case, cast, exists, false, func, literal, not_, null, or_, select, union_all
from sqlalchemy.engine import Connection

from modeldb_core.errors import NotFoundError, QueryError
from modeldb_core.model import MetricRange
from modeldb_core.models_view import (
    MODEL_KIND, TRAINING_PHASE, ModelGroup, ModelRow, ModelsOverview, ModelsPage, ModelsQuery,
    ParamStats,
)
from modeldb_core.query.fields import METRIC, PARAM, TAG, Field
from modeldb_core.query.language import SortKey
from modeldb_core.query.records import RunQuery

from . import schema as t
from .query import _Compiler, _checked, _escape_like

io, av, art, runs = t.run_io, t.artifact_versions, t.artifacts, t.runs


def _spellings(key: str, aliases: dict[str, str]) -> list[str]:
    return [key, *sorted(alias for alias, short in aliases.items() if short == key)]


def _is_model(run_table, artifact_table):
    """The rule's test of an output of ``run_table`` (the edge's own columns are checked by the caller)."""
    return and_(not_(artifact_table.c.uri.like("value:%")),
                or_(artifact_table.c.kind == MODEL_KIND,
                    and_(run_table.c.phase == TRAINING_PHASE, artifact_table.c.kind != "directory")))


def _first_writer(project_id, dialect: str):
    """No earlier run of the project wrote the same content as a model. On SQLite, ``+ 0`` keeps
    the planner on the (version, direction) index rather than every run of the project;
    PostgreSQL hashes the project's runs either way, and reads ``+ 0`` as a rare value."""
    earlier, other = io.alias("earlier_io"), runs.alias("earlier_run")

    def plain(column):
        return column + 0 if dialect == "sqlite" else column

    return not_(exists().where(
        earlier.c.artifact_version_id == io.c.artifact_version_id, earlier.c.direction == "output",
        earlier.c.run_id != io.c.run_id, other.c.id == earlier.c.run_id,
        plain(other.c.project_id) == project_id,
        or_(art.c.kind == MODEL_KIND, other.c.phase == TRAINING_PHASE),
        or_(plain(other.c.started_at) < runs.c.started_at,
            and_(plain(other.c.started_at) == runs.c.started_at, plain(other.c.id) < runs.c.id))))


def _models_from():
    return (runs.join(t.projects, t.projects.c.id == runs.c.project_id)
            .join(io, and_(io.c.run_id == runs.c.id, io.c.direction == "output"))
            .join(av, av.c.id == io.c.artifact_version_id)
            .join(art, art.c.id == av.c.artifact_id))


def _models_where(project_id, dialect: str) -> list:
    return [runs.c.project_id == project_id, _is_model(runs, art), _first_writer(project_id, dialect)]


def model_metric(key: str, aliases: dict[str, str]):
    """The value of aligned metric ``key`` for the model of the current row (NULL: none or NaN)."""
    names = _spellings(key, aliases)
    short_first = case((t.latest_metrics.c.key == key, 0), else_=1)
    reader, evaluation = io.alias("reader"), runs.alias("evaluation")
    judged = (select(t.latest_metrics.c.value)
              .select_from(reader.join(evaluation, evaluation.c.id == reader.c.run_id)
                           .join(t.latest_metrics, and_(t.latest_metrics.c.run_id == reader.c.run_id,
                                                        t.latest_metrics.c.key.in_(names))))
              .where(reader.c.artifact_version_id == io.c.artifact_version_id, reader.c.direction == "input",
                     reader.c.run_id != runs.c.id)
              .order_by(evaluation.c.started_at.desc(), evaluation.c.id.desc(), short_first)
              .limit(1).correlate(io, runs).scalar_subquery())
    own = (select(t.latest_metrics.c.value)
           .where(t.latest_metrics.c.run_id == runs.c.id, t.latest_metrics.c.key.in_(names))
           .order_by(short_first).limit(1).correlate(runs).scalar_subquery())
    return func.coalesce(judged, own)


class _MetricRow:
    """A model's metric seen as the row a run's comparison reads (``store/query.py``): a NaN is
    no value here (the correlated value is NULL for it), so it matches no comparison."""

    def __init__(self, value):
        self.c = SimpleNamespace(value=value, run_id=value, is_nan=false())


class _ModelCompiler(_Compiler):
    """The run search's compiler with ``metrics.*`` read as the model's metrics."""

    def __init__(self, query: RunQuery, aliases: dict[str, str], joined: Sequence[Field] = ()):
        super().__init__(query, joined=[*joined, *(k.field for k in query.order)])
        self.aliases_of_metrics = aliases
        self.metrics: dict[str, Any] = {}
        # Metrics are computed, never joined.
        self.joined = {f: None for f in self.joined if f.kind != METRIC}

    def metric(self, key: str):
        found = self.metrics.get(key)
        if found is None:
            found = self.metrics[key] = model_metric(key, self.aliases_of_metrics)
        return found

    def keyed(self, f: Field, condition):
        if f.kind == METRIC:
            return condition(_MetricRow(self.metric(f.key)))
        return super().keyed(f, condition)

    def predicate(self, node):
        from modeldb_core.query.language import IsNull

        if isinstance(node, IsNull) and node.field.kind == METRIC:
            value = self.metric(node.field.key)
            return value.is_not(None) if node.negated else value.is_(None)
        return super().predicate(node)

    def sort_columns(self, f: Field) -> list[tuple[Any, bool]]:
        if f.kind == METRIC:
            return [(self.metric(f.key), True)]
        return super().sort_columns(f)

    def from_clause(self):
        joined = _models_from()
        for alias, on, inner in self.joins:
            joined = joined.join(alias, on, isouter=not inner)
        return joined


def _search(words: str):
    """Every word somewhere in the model: its file, role, kind or hash, its training run's name,
    params (``key=value``) and tags, the names of the runs that evaluated it, notes of both."""
    evaluation, reader = runs.alias("searched_evaluation"), io.alias("searched_reader")
    conditions = []
    for word in words.split():
        pattern = f"%{_escape_like(word)}%"

        def like(column):
            return column.ilike(pattern, escape="\\")

        readers = (select(reader.c.run_id).where(reader.c.artifact_version_id == io.c.artifact_version_id,
                                                 reader.c.direction == "input").correlate(io))
        conditions.append(or_(
            like(art.c.uri), like(art.c.kind), like(av.c.content_hash), like(func.coalesce(io.c.name, "")),
            like(runs.c.name),
            exists().where(evaluation.c.id.in_(readers), like(evaluation.c.name)),
            exists().where(or_(t.notes.c.run_id == runs.c.id, t.notes.c.run_id.in_(readers)), like(t.notes.c.text)),
            exists().where(t.params.c.run_id == runs.c.id, like(t.params.c.key + "=" + t.params.c.value_text)),
            exists().where(t.tags.c.run_id == runs.c.id, like(t.tags.c.key + "=" + t.tags.c.value)),
        ))
    return and_(*conditions)


def _project_id(conn: Connection, project: str) -> int:
    found = conn.execute(select(t.projects.c.id).where(t.projects.c.name == project)).scalar()
    if found is None:
        raise NotFoundError("project", project)
    return found


def overview(conn: Connection, project: str, aliases: dict[str, str]) -> ModelsOverview:
    """How many models the project has, their training params, their metric names, and the
    project's metric ranges (what names its main metric): one statement."""
    project_id = _project_id(conn, project)
    models = (select(io.c.artifact_version_id.label("vid"), runs.c.id.label("rid"))
              .select_from(_models_from()).where(*_models_where(project_id, conn.dialect.name)).cte("models"))
    lm, p = t.latest_metrics, t.params
    sources = union_all(
        select(models.c.vid, models.c.rid.label("source")),
        select(models.c.vid, io.c.run_id).join(io, and_(io.c.artifact_version_id == models.c.vid,
                                                         io.c.direction == "input", io.c.run_id != models.c.rid)),
    ).cte("sources")
    aligned = case(*[(lm.c.key == alias, short) for alias, short in aliases.items()], else_=lm.c.key) \
        if aliases else lm.c.key
    text = p.c.value_json.like('"%')
    path = and_(text, or_(p.c.value_text.like("%/%"), p.c.value_text.like("%\\%")))
    none, no_key = cast(null(), Float), cast(null(), String)
    # Grouped by the key as written, SQLite walks every metric of the store in its (key, value)
    # index to skip a sort, then looks each run up; by an expression, it reads the project's runs.
    ranged = lm.c.key.concat("") if conn.dialect.name == "sqlite" else lm.c.key
    parts = [
        select(literal("total").label("part"), no_key.label("key"), func.count().label("a"),
               literal(0).label("b"), literal(0).label("c"), literal(0).label("d"),
               none.label("lo"), none.label("hi")).select_from(models),
        select(literal("param"), p.c.key, func.count(), func.count(func.distinct(p.c.value_json)),
               func.sum(case((text, 1), else_=0)), func.sum(case((path, 1), else_=0)),
               none, none)
        .select_from(models.join(p, p.c.run_id == models.c.rid)).group_by(p.c.key),
        select(literal("metric"), aligned, func.count(func.distinct(sources.c.vid)), literal(0), literal(0),
               literal(0), none, none)
        .select_from(sources.join(lm, lm.c.run_id == sources.c.source)).group_by(aligned),
        select(literal("range"), ranged, func.count(),
               func.sum(case((runs.c.phase == "evaluation", 1), else_=0)), literal(0), literal(0),
               func.min(lm.c.value), func.max(lm.c.value))
        .select_from(lm.join(runs, runs.c.id == lm.c.run_id)).where(runs.c.project_id == project_id)
        .group_by(ranged),
    ]
    out = ModelsOverview()
    for part, key, a, b, c, d, lo, hi in _checked(conn, lambda: conn.execute(union_all(*parts)).all()):
        if part == "total":
            out.total = int(a)
        elif part == "param":
            out.params.append(ParamStats(key=key, models=int(a), values=int(b), texts=int(c or 0),
                                         paths=int(d or 0)))
        elif part == "metric":
            out.metrics[key] = out.metrics.get(key, 0) + int(a)
        else:
            out.project_metrics[key] = MetricRange(runs=int(a), evaluation_runs=int(b or 0),
                                                   minimum=lo, maximum=hi)
    return out


def _sort_keys(query: ModelsQuery) -> tuple[SortKey, ...]:
    if query.order:
        return tuple(query.order)
    if query.main is not None:
        return (SortKey(Field(METRIC, query.main), descending=query.goal == "max"),)
    return ()


def _compiler(query: ModelsQuery, project_id: int, dialect: str, joined: Sequence[Field] = ()):
    run_query = RunQuery(filter=query.filter, order=_sort_keys(query))
    compiler = _ModelCompiler(run_query, query.aliases, joined)
    for f in compiler.joined:
        compiler.alias(f)
    where = [*_models_where(project_id, dialect), *compiler.where()]
    if query.search:
        where.append(_search(query.search))
    return compiler, where


def _order(compiler: _ModelCompiler, query: ModelsQuery) -> list[tuple[Any, bool]]:
    """(column, descending) of the page's order, every model distinct by the last ones."""
    columns: list[tuple[Any, bool]] = []
    keys = _sort_keys(query)
    for key in keys:
        columns += [(column, key.descending) for column, _ in compiler.sort_columns(key.field)]
    if not keys:  # newest trained first
        columns.append((func.coalesce(runs.c.ended_at, runs.c.started_at), True))
    # Ties in the order the models were trained: oldest first.
    return columns + [(runs.c.started_at, False), (runs.c.id, False), (io.c.artifact_version_id, False)]


def _after(columns: list[tuple[Any, bool]], values: Sequence[Any]):
    """Rows after ``values`` in the order of ``columns`` (missing values last, either way)."""
    later, same = [], []
    for (column, descending), value in zip(columns, values):
        if value is None:
            equal = column.is_(None)  # nothing sorts after a missing value but the next column
        else:
            beyond = column < value if descending else column > value
            later.append(and_(*same, or_(beyond, column.is_(None))))
            equal = column == value
        same.append(equal)
    return or_(*later) if later else false()


def _matching(compiler: _ModelCompiler, where: list, columns: list[tuple[Any, bool]], *extra):
    """The matching models with their sort key (``k0``...), computed once each: materialized, so
    that a model's metric (a correlated value) is not computed again by the order and the cursor."""
    stmt = (select(io.c.artifact_version_id.label("vid"), runs.c.uuid.label("training_uuid"),
                   io.c.name.label("output_name"), *extra,
                   *[column.label(f"k{i}") for i, (column, _) in enumerate(columns)])
            .select_from(compiler.from_clause()).where(*where))
    return stmt.cte("matching").prefix_with("MATERIALIZED")


def _versions(conn: Connection, ids: Sequence[int]) -> dict[int, Any]:
    """The artifact versions of a page, by id."""
    from .sql_store import SqlStore

    if not ids:
        return {}
    found = select(av, art.c.uri, art.c.kind).join(art, art.c.id == av.c.artifact_id).where(av.c.id.in_(list(ids)))
    return {row.id: SqlStore._version(row) for row in conn.execute(found)}


def page(conn: Connection, query: ModelsQuery) -> ModelsPage:
    """One page of the project's models (``query.limit`` of them after ``query.after``), with how
    many match from the cursor on, and the groups of every match when ``query.group`` is set."""
    project_id = _project_id(conn, query.project)
    compiler, where = _compiler(query, project_id, conn.dialect.name)
    columns = _order(compiler, query)
    matching = _matching(compiler, where, columns)
    keys = [(matching.c[f"k{i}"], descending) for i, (_, descending) in enumerate(columns)]
    # Every match is counted, those before the cursor too (models trained since the page before).
    stmt = select(matching, select(func.count()).select_from(matching).scalar_subquery().label("matched"))
    if query.after is not None:
        if len(query.after) != len(columns):
            raise QueryError("this cursor belongs to a different search (filter, project, search "
                             "and order_by must stay the same between pages)")
        stmt = stmt.where(_after(keys, query.after))
    stmt = stmt.order_by(*[(c.desc() if d else c.asc()).nulls_last() for c, d in keys])
    if query.limit is not None:
        stmt = stmt.limit(query.limit + 1)
    if query.offset and query.after is None:
        stmt = stmt.offset(query.offset)
    rows = _checked(conn, lambda: conn.execute(stmt).all())
    versions = _versions(conn, [row.vid for row in rows])
    out = ModelsPage(matched=0)
    for row in rows:
        out.rows.append(ModelRow(artifact=versions[row.vid], training_run=row.training_uuid,
                                 output_name=row.output_name,
                                 key=tuple(row._mapping[f"k{i}"] for i in range(len(columns)))))
    out.matched = rows[0].matched if rows else _checked(
        conn, lambda: conn.execute(select(func.count()).select_from(matching)).scalar_one())
    if query.limit is not None and len(out.rows) > query.limit:
        out.more = True
        del out.rows[query.limit:]
    out.model_inputs = _models_among_inputs(conn, project_id, [r.training_run for r in out.rows])
    if query.group is not None:
        out.groups = _groups(conn, query, project_id)
    return out


def _models_among_inputs(conn: Connection, project_id: int, training_runs: Sequence[str]) -> set[int]:
    """Which versions the training runs read are models of the project (never training data)."""
    if not training_runs:
        return set()
    reader = runs.alias("page_run")
    read = (select(io.c.artifact_version_id).join(reader, reader.c.id == io.c.run_id)
            .where(reader.c.uuid.in_(list(training_runs)), io.c.direction == "input"))
    written, writer = io.alias("written"), runs.alias("writer")
    stmt = (select(written.c.artifact_version_id).distinct()
            .join(writer, writer.c.id == written.c.run_id)
            .join(av, av.c.id == written.c.artifact_version_id).join(art, art.c.id == av.c.artifact_id)
            .where(written.c.artifact_version_id.in_(read), written.c.direction == "output",
                   writer.c.project_id == project_id, _is_model(writer, art)))
    return set(conn.execute(stmt).scalars())


def _groups(conn: Connection, query: ModelsQuery, project_id: int) -> list[ModelGroup]:
    """Models per value of ``query.group`` (every match), with the main metric's count, min, max
    and mean and the best model of each group, best groups first; at most MAX_GROUPS + 1."""
    from .query import MAX_GROUPS

    by = query.group
    if by.kind == METRIC:
        raise QueryError(f"cannot group by {by}: group by a param, a tag or a run field")
    compiler, where = _compiler(query, project_id, conn.dialect.name, joined=[by])
    if by.kind == PARAM:
        value = compiler.alias(by).c.value_json
    elif by.kind == TAG:
        value = compiler.alias(by).c.value
    else:
        value = compiler.attribute(by)
    score = compiler.metric(query.main) if query.main else cast(null(), Float)
    ties = [(runs.c.started_at, False), (runs.c.id, False)]
    matching = _matching(compiler, where, [(value, False), (score, False), *ties])
    value, score = matching.c.k0, matching.c.k1
    best_first = score.desc() if query.goal == "max" else score.asc()
    within = dict(partition_by=value)
    inner = (select(value.label("value"), score.label("score"),
                    func.count().over(**within).label("models"), func.count(score).over(**within).label("scored"),
                    func.min(score).over(**within).label("lo"), func.max(score).over(**within).label("hi"),
                    func.avg(score).over(**within).label("mean"),
                    func.row_number().over(partition_by=value, order_by=[best_first.nulls_last(), matching.c.k2,
                                                                         matching.c.k3]).label("rank"),
                    matching.c.vid, matching.c.output_name)
             .subquery())
    best = inner.c.lo if query.goal == "min" else inner.c.hi
    stmt = (select(inner).where(inner.c.rank == 1)
            .order_by((best.desc() if query.goal == "max" else best.asc()).nulls_last(), inner.c.value.asc().nulls_last())
            .limit(MAX_GROUPS + 1))
    out = []
    rows = _checked(conn, lambda: conn.execute(stmt).all())
    versions = _versions(conn, [row.vid for row in rows])
    for row in rows:
        grouped = row.value
        if by.kind == PARAM and grouped is not None:
            grouped = json.loads(grouped)
        best_model = None
        if row.scored:
            best_model = ModelRow(artifact=versions[row.vid], training_run="", output_name=row.output_name)
        out.append(ModelGroup(value=grouped, models=int(row.models), scored=int(row.scored or 0),
                              minimum=row.lo, maximum=row.hi,
                              mean=float(row.mean) if row.mean is not None else None, best=best_model))
    return out


def trainers(conn: Connection, project: str) -> dict[str, set[str]]:
    """For each run of ``project`` that read a model (trained in any project): the runs that
    trained the models it read."""
    project_id = _project_id(conn, project)
    reader, read = runs.alias("reader"), io.alias("read")
    stmt = (select(reader.c.uuid, runs.c.uuid)
            .select_from(_models_from()
                         .join(read, and_(read.c.artifact_version_id == io.c.artifact_version_id,
                                          read.c.direction == "input", read.c.run_id != runs.c.id))
                         .join(reader, reader.c.id == read.c.run_id))
            .where(reader.c.project_id == project_id, _is_model(runs, art),
                   _first_writer(runs.c.project_id, conn.dialect.name)))
    out: dict[str, set[str]] = {}
    for evaluation, trainer in _checked(conn, lambda: conn.execute(stmt).all()):
        out.setdefault(evaluation, set()).add(trainer)
    return out


__all__ = ["model_metric", "overview", "page", "trainers"]
