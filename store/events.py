"""Applying tracking events: the store's one write entry point for runs.

``apply(store, conn, events, definitions)`` writes a batch of events (see
``modeldb_core/events.py``) inside the caller's transaction, set-wise (a few
statements per kind for the whole batch), so that:

- applying an event twice changes nothing: a run is inserted once (by uuid),
  params are write-once, a metric point is unique by (run, key, step,
  timestamp), a note by (run, seq), lineage edges by (run, version, direction);
- the order of arrival does not matter: a tag keeps the value of the highest
  ``seq``; a terminal status is sticky (a later ``ended`` wins over an earlier
  one by ``seq``, a heartbeat never reopens a run); an end before its start is
  clamped to the start; an event whose run, parent run or pipeline run has not
  arrived yet is parked in ``parked_events`` and applied when it does.
"""
from __future__ import annotations

import json
from math import isnan
import operator
import re
import time
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence, TypeVar

from sqlalchemy import ARRAY, BigInteger, String, Text, bindparam, case, cast, func, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from modeldb_core.events import (
    BLOB_KEPT, DOMAIN_KINDS, ENDED, HEARTBEAT, IO, METRIC, NOTE, PARAMS, PIPELINE_ENDED, PIPELINE_STARTED,
    RUN_KINDS, STARTED, TAGS, Event,
)
from modeldb_core.model import ArtifactVersion, RunStatus

from . import arrays, schema as t
from .bulk import METRIC_COLUMNS, PARAM_COLUMNS, param_row
from .rows import encode_json

T = TypeVar("T")

if TYPE_CHECKING:
    from .sql_store import SqlStore

_RUNNING = RunStatus.RUNNING.value

# An applier writes one kind's events of a batch, in the batch's transaction, and returns
# the subjects that now exist (so what was parked waiting for them is applied).
Applier = Callable[["SqlStore", Connection, Sequence[Event]], Iterable[str]]
_APPLIERS: dict[str, Applier] = {}


def applier(kind: str) -> Callable[[Applier], Applier]:
    """Register the function that applies the events of ``kind`` (one of
    ``modeldb_core.events.DOMAIN_KINDS``), like the run events: idempotently, in any
    order. Modules of the store register theirs when imported by ``store``."""
    if kind not in DOMAIN_KINDS:
        raise ValueError(f"event kind {kind!r} is not declared in modeldb_core.events.DOMAIN_KINDS")

    def register(fn: Applier) -> Applier:
        _APPLIERS[kind] = fn
        return fn
    return register


@applier(BLOB_KEPT)
def _blobs_kept(store: "SqlStore", conn: Connection, events: Sequence[Event]) -> Iterable[str]:
    """Nothing to write: the blob is in the artifact folder this store's clients share (a
    modeldb server's client pushed it before sending the batch)."""
    return ()
_encode = json.JSONEncoder(separators=(",", ":"), allow_nan=True).encode


# The types of the values of the run updates (the inserts take their table's column types).
_END_TYPES = {"run_key": t.Id, "seq": BigInteger(), "new_status": String(20), "new_end": t.Double,
              "new_error_type": String(250), "new_error_message": Text(), "new_error_traceback": Text()}
_BEAT_TYPES = {"run_key": t.Id, "beat_at": t.Double}


_ARRAY_PARAMETER = re.compile(r"%\((all_\w+)\)s")


def _rows_of(types: Mapping[str, Any]) -> Any:
    """The rows of a batch as a FROM clause: one array parameter per column (``all_<column>``),
    zipped back into rows by ``unnest``."""
    arrays = [cast(bindparam(f"all_{name}", type_=ARRAY(kind)), ARRAY(kind)) for name, kind in types.items()]
    return func.unnest(*arrays).table_valued(*types).render_derived(name="batch")


class SetWise:
    """One statement of the event path for all the rows of a batch, on PostgreSQL.

    ``executemany`` there is one bind and execute per row (~60 µs a row of server and
    protocol work); here each column travels as one array and the statement reads the
    rows from ``unnest``: one round trip for the batch. The conflict rules are the same
    as the row-by-row statement's: a caller passes at most one row per key to an upsert
    (PostgreSQL refuses to update a row twice in one statement).
    """

    def __init__(self, build: Callable[[Any], Any], types: Mapping[str, Any]):
        self.build = build  # the statement, given the rows' FROM clause
        self.types = types
        self._compiled: dict[tuple[str, ...], tuple[str, dict[str, Any], frozenset[str]]] = {}

    def execute(self, conn: Connection, rows: Sequence[Any],
                columns: tuple[str, ...] | None = None) -> list[tuple[Any, ...]]:
        """``rows``: dicts, or tuples of the values of ``columns``. Returns the rows the
        statement returns (none unless it has RETURNING)."""
        if columns is None:
            columns = tuple(rows[0])
            rows = list(map(operator.itemgetter(*columns), rows))
        found = self._compiled.get(columns)
        if found is None:
            compiled = self.build(_rows_of({c: self.types[c] for c in columns})).compile(dialect=conn.dialect)
            fixed = {k: v for k, v in compiled.params.items() if not k.startswith("all_")}
            # The arrays travel in PostgreSQL's binary format, encoded by the column's type
            # (store/arrays.py): text arrays, where every element is quoted and escaped, were
            # a third of the server's CPU on a batch of runs.
            sql = _ARRAY_PARAMETER.sub(r"%(\1)b", str(compiled))
            found = self._compiled[columns] = (sql, fixed, [arrays.encoding_of(self.types[c]) for c in columns])
        sql, fixed, encodings = found

        def execute(cursor: Any) -> list[tuple[Any, ...]]:  # a value the column cannot hold fails as the driver's error
            params = dict(fixed)
            for column, encoding, values in zip(columns, encodings, zip(*rows)):
                params[f"all_{column}"] = arrays.BinaryArray(encoding, values)
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else []
        return driver_call(conn, sql, execute)


class Statements:
    """The statements of the event path, built once per store."""

    def __init__(self, store: "SqlStore"):
        insert = store._insert
        self.insert_run = insert(t.runs).on_conflict_do_nothing(index_elements=["uuid"])
        self.insert_param = insert(t.params).on_conflict_do_nothing()
        metric_point = ["run_id", "key", "step", "timestamp"]
        self.insert_metric = insert(t.metrics).on_conflict_do_nothing(index_elements=metric_point)
        # The values of a run the batch itself created: nothing of that run can be in the
        # store yet, so they go in without a conflict check (``_Batch._insert_values``).
        self.insert_new_param = insert(t.params)  # (plain INSERTs)
        self.insert_new_metric = insert(t.metrics)
        self.insert_new_tag = insert(t.tags)
        self.insert_new_latest = insert(t.latest_metrics)
        self.upsert_latest = store._upsert_latest

        def upsert_tag(tag: Any) -> Any:
            return tag.on_conflict_do_update(
                index_elements=["run_id", "key"],
                set_={"value": tag.excluded.value, "seq": tag.excluded.seq},
                where=or_(t.tags.c.seq.is_(None), tag.excluded.seq >= t.tags.c.seq))
        self.upsert_tag = upsert_tag(insert(t.tags))
        self.insert_note = insert(t.notes).on_conflict_do_nothing(index_elements=["run_id", "seq"])

        def upsert_recipe(recipe: Any) -> Any:
            return recipe.on_conflict_do_update(
                index_elements=["run_id", "part"],
                set_={"data": recipe.excluded.data, "seq": recipe.excluded.seq},
                where=t.run_recipes.c.seq < recipe.excluded.seq)
        self.upsert_recipe = upsert_recipe(insert(t.run_recipes))
        runs = t.runs.c

        def end_run(given: Callable[[str], Any], where: Any = ()) -> Any:
            return (update(t.runs)
                    .where(runs.id == given("run_key"), *where,
                           or_(runs.status == _RUNNING, runs.end_seq.is_(None), runs.end_seq < given("seq")))
                    .values(status=given("new_status"),
                            ended_at=case((given("new_end") < runs.started_at, runs.started_at),
                                          else_=given("new_end")),
                            error_type=given("new_error_type"), error_message=given("new_error_message"),
                            error_traceback=given("new_error_traceback"), end_seq=given("seq"),
                            heartbeat_at=given("new_end")))

        def beat(given: Callable[[str], Any]) -> Any:
            return (update(t.runs)
                    .where(runs.id == given("run_key"),
                           or_(runs.heartbeat_at.is_(None), runs.heartbeat_at < given("beat_at")))
                    .values(heartbeat_at=given("beat_at")))
        self.end_run = end_run(bindparam)
        self.beat = beat(bindparam)
        self.insert_parked = t.parked_events.insert()
        # PostgreSQL: the same statements over all the rows of a batch at once.
        self._set_wise: dict[int, SetWise] = {}
        if store.dialect == "postgresql":
            def inserting(table: Any, conflict: Callable[[Any], Any]) -> SetWise:
                types = {c.name: c.type for c in table.c}
                return SetWise(lambda batch: conflict(insert(table).from_select(
                    list(batch.c.keys()), select(*batch.c))), types)

            def latest(stmt: Any) -> Any:
                newer = or_(stmt.excluded.step > t.latest_metrics.c.step,
                            (stmt.excluded.step == t.latest_metrics.c.step)
                            & (stmt.excluded.timestamp >= t.latest_metrics.c.timestamp))
                return stmt.on_conflict_do_update(
                    index_elements=["run_id", "key"],
                    set_={c: stmt.excluded[c] for c in ("value", "is_nan", "step", "timestamp")}, where=newer)
            self._set_wise = {
                # Returns the runs it inserted: those the batch created (``_Batch._insert_runs``).
                id(self.insert_run): inserting(t.runs, lambda s: s.on_conflict_do_nothing(
                    index_elements=["uuid"]).returning(t.runs.c.uuid, t.runs.c.id)),
                id(self.insert_param): inserting(t.params, lambda s: s.on_conflict_do_nothing()),
                id(self.insert_new_param): inserting(t.params, lambda s: s),
                id(self.insert_new_metric): inserting(t.metrics, lambda s: s),
                id(self.insert_new_tag): inserting(t.tags, lambda s: s),
                id(self.insert_new_latest): inserting(t.latest_metrics, lambda s: s),
                id(self.insert_metric): inserting(
                    t.metrics, lambda s: s.on_conflict_do_nothing(index_elements=metric_point)),
                id(self.upsert_latest): inserting(t.latest_metrics, latest),
                id(self.upsert_tag): inserting(t.tags, upsert_tag),
                id(self.insert_note): inserting(
                    t.notes, lambda s: s.on_conflict_do_nothing(index_elements=["run_id", "seq"])),
                id(self.upsert_recipe): inserting(t.run_recipes, upsert_recipe),
                id(self.end_run): SetWise(lambda batch: end_run(lambda name: batch.c[name]), _END_TYPES),
                id(self.beat): SetWise(lambda batch: beat(lambda name: batch.c[name]), _BEAT_TYPES),
            }

    def many(self, conn: Connection, stmt: Any, rows: Sequence[Any],
             columns: tuple[str, ...] | None = None) -> list[tuple[Any, ...]] | None:
        """``stmt`` for every row (dicts, or tuples of the values of ``columns``): one
        statement for them all where the database has a set-wise form of it (returning the
        rows that form returns), else the driver's ``executemany`` (returning None)."""
        if not rows:
            return []
        set_wise = self._set_wise.get(id(stmt))
        if set_wise is not None:
            return set_wise.execute(conn, rows, columns)
        _many(conn, stmt, rows, columns)
        return None


_compiled: dict[tuple[int, str, tuple[str, ...]], tuple[str, tuple[str, ...] | None, dict[str, Any], Any]] = {}


def _many(conn: Connection, stmt: Any, rows: Sequence[Any], columns: tuple[str, ...] | None = None) -> None:
    """``stmt`` for every row (dicts, or tuples of the values of ``columns``), through the
    driver's own ``executemany``.

    The statement is compiled by SQLAlchemy once per database and set of columns;
    SQLAlchemy's per-row parameter processing costs more than the database's work
    for the small rows of tracking (the values here need no conversion).
    """
    if not rows:
        return
    if columns is not None:
        direct = _positional(conn, stmt, columns)
        if direct is None:  # a driver of named parameters, or values the statement holds
            rows = [dict(zip(columns, row)) for row in rows]
        else:
            sql, pick = direct
            values = rows if pick is None else list(map(pick, rows))
            driver_call(conn, sql, lambda cursor: cursor.executemany(sql, values))
            return
    columns = tuple(rows[0])
    key = (id(stmt), conn.dialect.name, columns)
    found = _compiled.get(key)
    if found is None:
        compiled = stmt.compile(dialect=conn.dialect, column_keys=list(columns))
        order = tuple(compiled.positiontup) if compiled.positiontup is not None else None
        # Values the statement itself holds (``status = 'running'``), beside the rows' own.
        fixed = {k: v for k, v in compiled.params.items() if k not in columns}
        # A positional driver takes tuples; itemgetter builds them in C (a Python loop per
        # value cost as much as SQLite's own work on a replay).
        pick = operator.itemgetter(*order) if order else None
        if pick is not None and len(order) == 1:
            one = pick
            pick = lambda row: (one(row),)  # noqa: E731 - itemgetter of one key gives the bare value
        found = _compiled[key] = (str(compiled), order, fixed, pick)
    sql, order, fixed, pick = found
    if order is None:
        values = [{**fixed, **row} for row in rows] if fixed else rows
    elif fixed:
        values = list(map(pick, ({**fixed, **row} for row in rows)))
    else:
        values = list(map(pick, rows))
    driver_call(conn, sql, lambda cursor: cursor.executemany(sql, values))


_positionals: dict[tuple[int, str, tuple[str, ...]], tuple[str, Any] | None] = {}


def _positional(conn: Connection, stmt: Any, columns: tuple[str, ...]) -> tuple[str, Any] | None:
    """For rows that are tuples of ``columns``: the SQL of ``stmt`` and what reorders a row into
    its parameters (None: already in order), or None when the driver takes named parameters
    or the statement holds values of its own."""
    key = (id(stmt), conn.dialect.name, columns)
    if key not in _positionals:
        compiled = stmt.compile(dialect=conn.dialect, column_keys=list(columns))
        order = tuple(compiled.positiontup) if compiled.positiontup is not None else None
        if order is None or set(order) - set(columns) or len(order) < 2:
            _positionals[key] = None
        else:
            pick = None if order == columns else operator.itemgetter(*map(columns.index, order))
            _positionals[key] = (str(compiled), pick)
    return _positionals[key]


def driver_call(conn: Connection, sql: str, call: Callable[[Any], T]) -> T:
    """``call(cursor)`` on the driver's own cursor, in ``conn``'s transaction."""
    cursor = conn.connection.driver_connection.cursor()
    dbapi_error = conn.dialect.dbapi.Error
    try:
        return call(cursor)
    except dbapi_error as exc:
        # As SQLAlchemy wraps what it executes itself, so the store translates (and retries)
        # a driver's error here as it does everywhere else.
        raise DBAPIError.instance(sql, None, exc, dbapi_error, dialect=conn.dialect) from exc
    finally:
        cursor.close()


def _definition_ids(store: "SqlStore", conn: Connection, definitions: Mapping[str, Any],
                    keys: Iterable[str]) -> dict[str, int]:
    """Ids of the environments and code versions the events refer to (ensured by content hash)."""
    out: dict[str, int] = {}
    for key in keys:
        value = definitions.get(key)
        if not value or not value.get("hash"):
            continue
        if value["type"] == "environment":
            def ensure(value=value) -> int:
                return store._ensure(conn, t.environments, {
                    "python_version": value["python_version"], "platform": value["platform"],
                    "packages": encode_json(value["packages"])}, {"hash": value["hash"]})
        else:
            def ensure(value=value) -> int:
                return store._ensure(conn, t.code_versions, {k: value.get(k) for k in (
                    "git_commit", "git_branch", "git_dirty", "git_diff_hash", "repo_path",
                    "source_file", "function", "source_hash")}, {"hash": value["hash"]})
        out[key] = store._cached_id(conn, value["type"], value["hash"], ensure)
    return out


def keys_by(conn: Connection, table: Any, column: str, values: Iterable[Any]) -> dict[Any, int]:
    """The keys (``id``) of the rows of ``table`` whose unique ``column`` holds these values
    (runs and pipeline runs by uuid, artifacts by uri), by value; values no row holds are absent."""
    values = list(values)
    out: dict[Any, int] = {}
    if not values:
        return out
    if conn.dialect.name == "postgresql":
        # One array parameter: the same statement for any number of values (an IN list of
        # 500 parameters was compiled by SQLAlchemy and parsed by the server every time:
        # a tenth of a server's CPU ingesting batches of runs).
        sql = f"SELECT {column}, id FROM {table.name} WHERE {column} = ANY(%b)"

        def lookup(cursor: Any) -> None:  # the array made inside: a bad value fails as the driver's error
            given = (arrays.BinaryArray(arrays.encoding_of(table.c[column].type), values),)
            out.update(cursor.execute(sql, given).fetchall())
        driver_call(conn, sql, lookup)
        return out
    # SQLite: the driver's own statement, an IN list of ? a chunk (SQLAlchemy rendered an
    # expanding IN parameter on every call: a fifth of a small batch's CPU went to it).
    for start in range(0, len(values), 500):
        chunk = values[start:start + 500]
        sql = f"SELECT {column}, id FROM {table.name} WHERE {column} IN ({','.join('?' * len(chunk))})"
        out.update(driver_call(conn, sql, lambda cursor: cursor.execute(sql, chunk).fetchall()))
    return out


def _pipeline_run_ids(conn: Connection, keys: Iterable[str]) -> dict[str, int]:
    return keys_by(conn, t.pipeline_runs, "uuid", keys)


def run_ids(conn: Connection, uuids: Iterable[str]) -> dict[str, int]:
    """The keys of the runs named by these uuids (those in the store)."""
    return keys_by(conn, t.runs, "uuid", uuids)


def _start_pipeline_runs(store: "SqlStore", conn: Connection, events: Sequence[Event]) -> list[str]:
    """Ensure the pipelines and pipeline runs started; returns their keys."""
    import hashlib

    # A pipeline run is started by every worker process of its DAG run (one a task in
    # production Airflow): those after the first find it by its key in one statement.
    known = _pipeline_run_ids(conn, {event.subject for event in events})
    done = []
    for event in events:
        if event.subject in known:
            done.append(event.subject)
            continue
        data = event.data
        body = encode_json(data.get("structure") or {})
        digest = data.get("structure_hash") or "sha256:" + hashlib.sha256(body.encode()).hexdigest()
        project_id = store._project_id(conn, data["project"])
        pipeline_id = store._ensure(conn, t.pipelines, {"structure": body, "created_at": time.time()},
                                    {"project_id": project_id, "name": data["name"],
                                     "orchestrator": data["orchestrator"], "structure_hash": digest})
        run_id = store._ensure(conn, t.pipeline_runs,
                               {"status": _RUNNING, "started_at": data["started_at"]},
                               {"pipeline_id": pipeline_id, "external_id": data["external_id"]})
        conn.execute(update(t.pipeline_runs).where(t.pipeline_runs.c.id == run_id,
                                                   t.pipeline_runs.c.uuid.is_(None))
                     .values(uuid=event.subject))
        done.append(event.subject)
    return done


class _Batch:
    def __init__(self, store: "SqlStore", conn: Connection, definitions: Mapping[str, Any]):
        self.store = store
        self.conn = conn
        self.definitions = definitions
        self.s: Statements = store._event_statements
        self.parked: list[tuple[str, Event, str]] = []
        # The end each run of the batch would keep (highest seq): a run started in the same
        # batch is inserted ended, so the end's update finds nothing to change (no index of
        # status to move); it still runs, for a run another writer inserted first.
        self.final_ends: dict[str, Event] = {}
        # The keys of the runs this batch inserted (``_insert_values``).
        self.created: set[int] = set()

    def park(self, waits_for: str, event: Event) -> None:
        """Keep ``event`` until ``waits_for`` arrives (with the definitions a start refers to)."""
        used = {}
        if event.kind == STARTED:
            used = {k: self.definitions[k] for k in (event.data.get("code"), event.data.get("env"))
                    if k and k in self.definitions}
        self.parked.append((waits_for, event, _encode(used)))

    def apply(self, events: Sequence[Event]) -> list[str]:
        """Apply ``events``; returns the subjects that now exist and did not before."""
        conn = self.conn
        # One pass: the events of each kind, and those about an existing run (in arrival order).
        by_kind: dict[str, list[Event]] = {}
        about_runs: list[Event] = []
        subjects: set[str] = set()
        for event in events:
            kind = event.kind
            found = by_kind.get(kind)
            if found is None:
                found = by_kind[kind] = []
            found.append(event)
            if kind in RUN_KINDS:
                subjects.add(event.subject)
                if kind != STARTED:
                    about_runs.append(event)
        arrived = _start_pipeline_runs(self.store, conn, by_kind.get(PIPELINE_STARTED, ()))
        starts = by_kind.get(STARTED, [])
        if starts:
            self.final_ends = _final_ends(by_kind.get(ENDED, ()))
        parents = {e.data["parent"] for e in starts if isinstance(e.data.get("parent"), str)}
        ids = run_ids(conn, subjects | parents)
        new, known = self._insert_runs(starts, ids)  # known: what came with the starts, first
        arrived += new
        self._pipeline_ends(by_kind.get(PIPELINE_ENDED, ()))
        for event in about_runs:
            run_key = ids.get(event.subject)
            if run_key is None:
                self.park(event.subject, event)
            else:
                known.append((run_key, event))
        self._apply_to_runs(known)
        # Last: a registry or profile event may name a run, or an output, of this very batch.
        # In the order the appliers were registered: a deployment after a registration it may name.
        for kind in sorted(DOMAIN_KINDS & by_kind.keys(), key=list(_APPLIERS).index):
            arrived += list(_APPLIERS[kind](self.store, conn, by_kind[kind]))
        return arrived

    # -- runs ---------------------------------------------------------------------------
    def _insert_runs(self, starts: Sequence[Event], ids: dict[str, int]) -> tuple[list[str], list[tuple[int, Event]]]:
        """Insert the runs started (parents before children); park those whose parent or
        pipeline run has not arrived. ``ids`` learns the new runs' ids, ``created`` the keys
        of those this batch inserted. Returns the runs now in the store, and the params and
        tags that came with their starts, as events about them."""
        waiting = [e for e in starts if e.subject not in ids]
        carried: list[tuple[int, Event]] = []
        if not waiting:
            return [], carried
        conn, store = self.conn, self.store
        prun_keys = {e.data["pipeline_run"] for e in waiting if e.data.get("pipeline_run")}
        prun_ids = _pipeline_run_ids(conn, prun_keys) if prun_keys else {}
        definition_ids = _definition_ids(store, conn, self.definitions,
                                         {k for e in waiting for k in (e.data.get("code"), e.data.get("env")) if k})
        pending_uuids = {e.subject for e in waiting}
        new: list[str] = []
        while waiting:
            ready, later = [], []
            for event in waiting:
                data = event.data
                parent = data.get("parent")
                prun = data.get("pipeline_run")
                if prun and prun not in prun_ids:
                    self.park(prun, event)
                elif isinstance(parent, str) and parent not in ids:
                    if parent in pending_uuids:
                        later.append(event)
                    else:
                        self.park(parent, event)
                else:
                    ready.append(event)
            if not ready:
                for event in later:  # a cycle of parents: nothing can ever resolve it
                    self.park(event.data["parent"], event)
                break
            rows = []
            final_ends = self.final_ends
            for event in ready:
                data = event.data
                parent = data.get("parent")
                started = data["started_at"]
                rows.append(_ended_row(final_ends.get(event.subject), {
                    "uuid": event.subject, "project_id": store._project_id(conn, data["project"]),
                    "pipeline_run_id": prun_ids.get(data.get("pipeline_run")),
                    "parent_run_id": ids[parent] if isinstance(parent, str) else parent,
                    "parent_uuid": parent if isinstance(parent, str) else _uuid_of(conn, parent),
                    "name": data["name"], "phase": data.get("phase"), "status": _RUNNING,
                    "orchestrator": data.get("orchestrator"), "external_id": data.get("external_id"),
                    "try_number": data.get("try_number"), "user": data.get("user"),
                    "host": data.get("host"), "pid": data.get("pid"), "heartbeat_at": started,
                    "started_at": started, "ended_at": None,
                    "code_version_id": definition_ids.get(data.get("code")),
                    "environment_id": definition_ids.get(data.get("env")),
                    "error_type": None, "error_message": None, "error_traceback": None,
                    "end_seq": None}))
            inserted = self.s.many(conn, self.s.insert_run, rows)
            subjects = {e.subject for e in ready}
            # PostgreSQL: the statement returns the runs it inserted. SQLite: the transaction
            # holds the write lock since its BEGIN IMMEDIATE, so every run of ``ready`` (none
            # was there) is this batch's.
            found = dict(inserted) if inserted is not None else run_ids(conn, subjects)
            self.created.update(found.values())
            if len(found) < len(subjects):  # another writer committed them meanwhile: not the batch's
                found.update(run_ids(conn, subjects - found.keys()))
            ids.update(found)
            new += [e.subject for e in ready]
            carried += [(found[e.subject], Event(PARAMS, e.subject, e.seq, e.data["params"]))
                        for e in ready if e.data.get("params")]
            carried += [(found[e.subject], Event(TAGS, e.subject, e.seq, e.data["tags"]))
                        for e in ready if e.data.get("tags")]
            waiting = later
        return new, carried

    def _apply_to_runs(self, events: Sequence[tuple[int, Event]]) -> None:
        conn, s = self.conn, self.s
        params, metrics, tags, notes, edges, ends, beats = [], [], [], [], [], [], []
        for run_key, event in events:
            kind, data = event.kind, event.data
            if kind == METRIC:
                metrics.append(_metric(run_key, data))
            elif kind == PARAMS:
                params += [param_row(run_key, k, v) for k, v in data.items()]
            elif kind == TAGS:
                seq = event.seq
                tags += [(run_key, k, v, seq) for k, v in data.items()]
            elif kind == NOTE:
                notes.append({"run_id": run_key, "text": data["text"], "created_at": data["at"],
                              "seq": event.seq})
            elif kind == IO:
                edges.append((run_key, data["direction"], data.get("name"), ArtifactVersion(**data["version"])))
            elif kind == ENDED:
                ends.append({"run_key": run_key, "seq": event.seq, "new_status": data["status"],
                             "new_end": data["ended_at"], "new_error_type": data.get("error_type"),
                             "new_error_message": data.get("error_message"),
                             "new_error_traceback": data.get("error_traceback")})
            elif kind == HEARTBEAT:
                beats.append({"run_key": run_key, "beat_at": float(data)})
        if params:
            self._insert_values(s.insert_param, s.insert_new_param, params, PARAM_COLUMNS, _RUN_KEY)
        if metrics:
            self._insert_values(s.insert_metric, s.insert_new_metric, metrics, METRIC_COLUMNS, _METRIC_POINT)
            latest: dict[tuple[int, str], tuple[Any, ...]] = {}
            for m in metrics:  # (run, key, value, is_nan, step, timestamp)
                seen = latest.get(m[:2])
                if seen is None or (m[4], m[5]) >= (seen[4], seen[5]):
                    latest[m[:2]] = m
            self._insert_values(s.upsert_latest, s.insert_new_latest, list(latest.values()),
                                METRIC_COLUMNS, _RUN_KEY)
        if tags:
            self._insert_values(s.upsert_tag, s.insert_new_tag, _last_by_seq(tags), _TAG_COLUMNS, _RUN_KEY)
        if notes:
            s.many(conn, s.insert_note, notes)
        if edges:
            self.store._write_edges(conn, edges)
        if ends:
            for round_ in _ends_in_rounds(ends):
                s.many(conn, s.end_run, round_)
        if beats:
            s.many(conn, s.beat, _last_beat_of_each_run(beats))

    def _insert_values(self, checked: Any, unchecked: Any, rows: list[tuple[Any, ...]],
                       columns: tuple[str, ...], unique: Callable[[tuple[Any, ...]], Any]) -> None:
        """Insert rows of runs' values (params, metric points, latest values, tags; their
        first column the run's key) by ``checked``, an insert with a conflict rule.

        Those of a run this batch created go in by ``unchecked``, a plain INSERT: nothing of
        that run can be in the store but what this one call writes (``apply`` calls
        ``_apply_to_runs`` once a batch), and only the first row of each ``unique`` key is
        kept, as ``checked``'s rule would keep it (callers pass one latest value and one tag
        row a key). On PostgreSQL a conflict check is a speculative insertion a row: on a
        batch of new runs, a third of the database's CPU.
        """
        created = self.created
        if created:
            fresh, others, seen = [], [], set()
            for row in rows:
                if row[0] not in created:
                    others.append(row)
                elif (key := unique(row)) not in seen:
                    seen.add(key)
                    fresh.append(row)
            self.s.many(self.conn, unchecked, fresh, columns)
            rows = others
        self.s.many(self.conn, checked, rows, columns)

    def _pipeline_ends(self, events: Sequence[Event]) -> None:
        if not events:
            return
        ids = _pipeline_run_ids(self.conn, {e.subject for e in events})
        for event in events:
            prun = ids.get(event.subject)
            if prun is None:
                self.park(event.subject, event)
                continue
            where = [t.pipeline_runs.c.id == prun]
            if event.data.get("if_running"):
                where.append(t.pipeline_runs.c.status == _RUNNING)
            self.conn.execute(update(t.pipeline_runs).where(*where)
                              .values(status=event.data["status"], ended_at=event.data["ended_at"]))


def _uuid_of(conn: Connection, key: int | None) -> str | None:
    """The public id of a parent named by its key (callers of the earlier API)."""
    if key is None:
        return None
    return conn.execute(select(t.runs.c.uuid).where(t.runs.c.id == key)).scalar()


# The rows of params, metrics (bulk.PARAM_COLUMNS, METRIC_COLUMNS) and tags are tuples.
_TAG_COLUMNS = ("run_id", "key", "value", "seq")
# The unique keys of those rows: (run, key) of a param, a tag or a latest value; (run, key, step,
# timestamp) of a point.
_RUN_KEY = operator.itemgetter(0, 1)
_METRIC_POINT = operator.itemgetter(0, 1, 4, 5)


def _metric(run_key: int, data: Sequence[Any]) -> tuple[Any, ...]:
    key, value, step, timestamp = data
    if value.__class__ is float and not isnan(value):
        return (run_key, key, value, False, step, timestamp)
    nan = value is None or value != value
    return (run_key, key, None if nan else float(value), nan, step, timestamp)


def _final_ends(ends: Iterable[Event]) -> dict[str, Event]:
    """The end of each run that wins among ``ends`` (the highest seq), when it is a terminal one."""
    final: dict[str, Event] = {}
    for end in ends:
        seen = final.get(end.subject)
        if seen is None or end.seq > seen.seq:
            final[end.subject] = end
    return {subject: end for subject, end in final.items() if end.data.get("status") != _RUNNING}


def _ended_row(end: Event | None, row: dict[str, Any]) -> dict[str, Any]:
    """A new run's row, ended as ``end`` would end it (``Statements.end_run``'s rules on a
    running run: the end clamped to the start, the heartbeat at the end)."""
    if end is None:
        return row
    data = end.data
    ended_at = data.get("ended_at")
    started = row["started_at"]
    row.update(status=data["status"], end_seq=end.seq, heartbeat_at=ended_at,
               ended_at=started if ended_at is not None and ended_at < started else ended_at,
               error_type=data.get("error_type"), error_message=data.get("error_message"),
               error_traceback=data.get("error_traceback"))
    return row


def _ends_in_rounds(ends: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The ends of a batch, highest seq first, in rounds of at most one end a run (one
    statement may not update a row twice). Applied in that order, a later one only wins
    by seq. Mostly one round: a batch rarely holds two ends of one run."""
    rounds: list[list[dict[str, Any]]] = []
    taken: list[set[int]] = []
    for end in sorted(ends, key=lambda e: -e["seq"]):
        for runs, round_ in zip(taken, rounds):
            if end["run_key"] not in runs:
                break
        else:
            runs, round_ = set(), []
            taken.append(runs)
            rounds.append(round_)
        runs.add(end["run_key"])
        round_.append(end)
    return rounds


def _last_beat_of_each_run(beats: list[dict[str, Any]]) -> list[dict[str, Any]]:
    last: dict[int, dict[str, Any]] = {}
    for beat in beats:
        seen = last.get(beat["run_key"])
        if seen is None or beat["beat_at"] > seen["beat_at"]:
            last[beat["run_key"]] = beat
    return list(last.values())


def _last_by_seq(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """One tag row (run, key, value, seq) per (run, key), that of the highest seq: an
    upsert may not touch one row twice in one statement."""
    last: dict[tuple[int, str], tuple[Any, ...]] = {}
    for row in rows:
        seen = last.get(row[:2])
        if seen is None or row[3] >= seen[3]:
            last[row[:2]] = row
    return list(last.values())


_WAITING_LISTED = 500


def _arrived(conn: Connection, new: list[str]) -> list[str]:
    """Subjects parked events wait for that exist now: of those this batch made exist
    (``new``), the ones something waits for, and any other that exists by now.

    Two writers can miss each other: one parks an event for a pipeline run while the
    other, in a transaction that cannot see that yet, inserts the pipeline run and
    looks for what waited for it. Every batch looks again, so such an event waits at
    most until the next batch of any process (one indexed query when nothing waits).
    """
    sql = f"SELECT DISTINCT waits_for FROM {t.parked_events.name} LIMIT {_WAITING_LISTED}"
    waiting = [row[0] for row in driver_call(conn, sql, lambda cursor: cursor.execute(sql).fetchall())]
    if not waiting:
        return []  # nothing is parked: nothing to look for
    if len(waiting) < _WAITING_LISTED:  # all that wait are listed
        listed = set(waiting)
        new = [subject for subject in new if subject in listed]
    found = set(new) | run_ids(conn, waiting).keys() | _pipeline_run_ids(conn, waiting).keys()
    return sorted(found)


def apply(store: "SqlStore", conn: Connection, events: Sequence[Event],
          definitions: Mapping[str, Any]) -> None:
    """Apply ``events`` in ``conn``'s transaction; unpark what they make applicable."""
    batch = _Batch(store, conn, definitions)
    arrived = _arrived(conn, batch.apply(events))
    for _ in range(1000):  # each round unparks what the previous one made arrive
        if not arrived:
            break
        rows = []
        for start in range(0, len(arrived), 500):
            rows += conn.execute(select(t.parked_events).where(
                t.parked_events.c.waits_for.in_(arrived[start:start + 500]))
                .order_by(t.parked_events.c.id)).all()
        if not rows:
            break
        conn.execute(t.parked_events.delete().where(t.parked_events.c.id.in_([r.id for r in rows])))
        grouped: dict[str, list[Event]] = {}
        for row in rows:
            grouped.setdefault(row.definitions, []).append(Event.from_json(json.loads(row.event)))
        arrived = []
        for defs, parked in grouped.items():
            sub = _Batch(store, conn, json.loads(defs))
            arrived += sub.apply(parked)
            batch.parked += sub.parked
    if batch.parked:
        now = time.time()
        conn.execute(batch.s.insert_parked, [
            {"waits_for": waits_for, "event": _encode(event.to_json()), "definitions": used, "created_at": now}
            for waits_for, event, used in batch.parked])
