"""The fast write path for many finished runs at once (imports, backfills, sweeps).

``create_runs`` goes through SQLAlchemy's per-row parameter processing, which
costs more than SQLite itself at thousands of runs a second. Here every
INSERT is still compiled by SQLAlchemy Core from the table definitions, once
per database; the rows are then built as plain tuples and handed to the
driver (SQLite's ``executemany``) in one transaction. On SQLite the run ids are
assigned inside the write lock (``BEGIN IMMEDIATE``), so no RETURNING round
trip is needed; PostgreSQL takes them from the sequence with RETURNING.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from modeldb_core.model import Metric, NewRun

from . import schema as t
from .rows import encode_json, encode_param, latest_of

_RUN_COLUMNS = ("id", "uuid", "project_id", "pipeline_run_id", "parent_run_id", "parent_uuid", "name", "phase", "status",
                "orchestrator", "external_id", "try_number", "user", "host", "pid", "heartbeat_at",
                "started_at", "ended_at", "code_version_id", "environment_id",
                "error_type", "error_message", "error_traceback")
_NOTE_COLUMNS = ("run_id", "text", "created_at")
PARAM_COLUMNS = ("run_id", "key", "value_json", "value_text", "value_num")
METRIC_COLUMNS = ("run_id", "key", "value", "is_nan", "step", "timestamp")
_TAG_COLUMNS = ("run_id", "key", "value")

SQLITE_CACHE_PRAGMA = "PRAGMA cache_size = -131072"  # 128 MiB, for the connection that imports
_compiled: dict[tuple[str, str, tuple[str, ...]], str] = {}


def _insert_sql(conn: Connection, table, columns: tuple[str, ...]) -> str:
    """The driver-level INSERT for ``columns`` of ``table``, compiled by SQLAlchemy once."""
    key = (conn.dialect.name, table.name, columns)
    sql = _compiled.get(key)
    if sql is None:
        compiled = t.metadata.tables[table.name].insert().values(
            {c: None for c in columns}).compile(dialect=conn.dialect)
        # Positional drivers (SQLite) take the tuple in the table's column order.
        if compiled.positiontup is not None and tuple(compiled.positiontup) != columns:
            raise AssertionError(f"unexpected parameter order {compiled.positiontup} for {columns}")
        sql = _compiled[key] = str(compiled)
    return sql


def param_row(run_id: int, key: str, value: Any) -> tuple:
    """The stored forms of a param value: ``rows.encode_param``, with fast paths for plain numbers and strings."""
    cls = value.__class__
    if cls is float and math.isfinite(value):
        text = repr(value)
        return (run_id, key, text, text, value)
    if cls is int:
        text = repr(value)
        return (run_id, key, text, text, float(value))
    if cls is str:
        return (run_id, key, encode_json(value), value, None)
    encoded = encode_param(value)
    return (run_id, key, encoded["value_json"], encoded["value_text"], encoded["value_num"])


def metric_row(run_id: int, m: Metric) -> tuple:
    value = m.value
    if value != value:
        return (run_id, m.key, None, True, m.step, m.timestamp)
    return (run_id, m.key, value, False, m.step, m.timestamp)


def _copy(conn: Connection, table, columns: tuple[str, ...], rows: list) -> None:
    """PostgreSQL's COPY FROM STDIN through psycopg, in the connection's transaction.

    The statement names only the table and columns of our own schema, composed
    as quoted identifiers; the values travel as COPY data, never as SQL text.
    """
    from psycopg import sql

    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(sql.Identifier(c) for c in columns))
    raw = conn.connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def insert_runs(conn: Connection, new_runs: Sequence[NewRun], project_ids: dict[str, int]) -> list[int]:
    """Insert ``new_runs`` with their params, metrics and tags; return their keys in order.

    Must run inside one write transaction (on SQLite: ``BEGIN IMMEDIATE``).
    ``project_ids`` maps every project named by ``new_runs`` to its id.
    """
    if not new_runs:
        return []
    sqlite = conn.dialect.name == "sqlite"
    # Parents named by public id or by key: both columns are filled.
    named = {new.parent_run_id for new in new_runs if new.parent_run_id is not None}
    parents: dict[Any, tuple[int, str]] = {}
    if named:
        texts = [p for p in named if isinstance(p, str)]
        numbers = [p for p in named if isinstance(p, int)]
        for key, uuid in conn.execute(select(t.runs.c.id, t.runs.c.uuid).where(
                t.runs.c.uuid.in_(texts) | t.runs.c.id.in_(numbers))).all():
            parents[uuid] = parents[key] = (key, uuid)
    run_rows = []
    for new in new_runs:
        run_rows.append([None, new.uuid, project_ids[new.project], new.pipeline_run_id,
                         *parents.get(new.parent_run_id, (new.parent_run_id, None)),
                         new.name, new.phase, new.status, new.orchestrator, new.external_id,
                         new.try_number, new.user, new.host, new.pid, new.started_at,
                         new.started_at, new.ended_at, new.code_version_id, new.environment_id,
                         new.error_type, new.error_message, new.error_traceback])
    if sqlite:
        # We hold the write lock: nobody else can take these ids before we commit.
        first = (conn.execute(select(func.max(t.runs.c.id))).scalar() or 0) + 1
        ids = list(range(first, first + len(run_rows)))
        for row, run_id in zip(run_rows, ids):
            row[0] = run_id
        # The driver's own cursor, in the connection's transaction: SQLAlchemy's
        # per-statement bookkeeping costs more than SQLite's insert of a small run.
        cursor = conn.connection.driver_connection.cursor()
        cursor.executemany(_insert_sql(conn, t.runs, _RUN_COLUMNS), [tuple(r) for r in run_rows])
    else:
        # Ids from the table's own sequence, then every row through COPY.
        ids = list(conn.execute(
            select(func.nextval(func.pg_get_serial_sequence(t.runs.name, t.runs.c.id.name)))
            .select_from(func.generate_series(1, len(run_rows)))).scalars())
        for row, run_id in zip(run_rows, ids):
            row[0] = run_id
        _copy(conn, t.runs, _RUN_COLUMNS, run_rows)
    params, metrics, latest, tags, notes = [], [], [], [], []
    for run_id, new in zip(ids, new_runs):
        notes += [(run_id, text, new.ended_at or new.started_at) for text in new.notes]
        for key, value in new.params.items():
            params.append(param_row(run_id, key, value))
        if new.metrics:
            rows = [metric_row(run_id, m) for m in new.metrics]
            metrics += rows
            latest += rows if len(rows) == len({m.key for m in new.metrics}) else \
                [metric_row(run_id, m) for m in latest_of(new.metrics).values()]
        for key, value in new.tags.items():
            tags.append((run_id, key, value))
    # Rows stay in run order: a run's params and metrics then share table pages, which is
    # what reading a page of runs needs. (Sorting them in (key, value) order would make
    # the insert a little cheaper and every later read scattered.)
    for table, columns, rows in ((t.params, PARAM_COLUMNS, params), (t.metrics, METRIC_COLUMNS, metrics),
                                 (t.latest_metrics, METRIC_COLUMNS, latest),
                                 (t.tags, _TAG_COLUMNS, tags), (t.notes, _NOTE_COLUMNS, notes)):
        if not rows:
            continue
        if sqlite:
            cursor.executemany(_insert_sql(conn, table, columns), rows)
        else:
            _copy(conn, table, columns, rows)
    return ids
