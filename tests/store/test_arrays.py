"""The event path's binary array parameters (store/arrays.py) read back by a real PostgreSQL
exactly as given: every column type of the set-wise statements, with NULLs, extremes and text
beyond ASCII."""
from __future__ import annotations

import math

import pytest
import sqlalchemy as sa

from modeldb_core.store import open_store
from modeldb_core.store.arrays import BinaryArray, encoding_of
from modeldb_core.store import schema as t

CASES = [
    (t.metrics.c.value, [0.5, None, -1e308, 5e-324, math.inf, -math.inf, 3]),
    (t.metrics.c.step, [0, None, 2 ** 63 - 1, -(2 ** 63), 7]),
    (t.runs.c.try_number, [1, None, 2 ** 31 - 1, -(2 ** 31)]),
    (t.metrics.c.is_nan, [True, False, None]),
    (t.runs.c.name, ["train", None, "", "données ü 模型 🚀", "a'b\"c,{}\\"]),
    (t.notes.c.text, ["x" * 10_000, None, "line\nbreak\ttab"]),
]


@pytest.fixture
def postgres(postgres_server):
    store = open_store(postgres_server.new_database())
    yield store
    store.close()


@pytest.mark.parametrize("column, values", CASES, ids=[str(c) for c, _ in CASES])
def test_a_column_travels_as_a_binary_array_and_reads_back_as_given(postgres, column, values):
    sql_type = column.type.compile(dialect=postgres.engine.dialect)
    with postgres.engine.connect() as conn:
        cursor = conn.connection.driver_connection.cursor()
        rows = cursor.execute(f"SELECT unnest(%b::{sql_type}[])",
                              [BinaryArray(encoding_of(column.type), values)]).fetchall()
    assert [r[0] for r in rows] == values


def test_an_empty_array_and_nothing_but_nulls(postgres):
    with postgres.engine.connect() as conn:
        cursor = conn.connection.driver_connection.cursor()
        assert cursor.execute("SELECT cardinality(%b::bigint[])", [BinaryArray(encoding_of(sa.BigInteger()), [])]
                              ).fetchone()[0] == 0
        assert cursor.execute("SELECT unnest(%b::text[])", [BinaryArray(encoding_of(sa.Text()), [None, None])]
                              ).fetchall() == [(None,), (None,)]


def test_a_value_of_another_type_is_made_the_columns_and_one_it_cannot_hold_is_a_store_error(postgres):
    """An int in a float column, a number in a text one, as the column's type; a number beyond
    BIGINT or text that is not Unicode fails as the database's own refusal would (a StoreError
    the writer reports and drops, never an error it would retry forever)."""
    import psycopg

    with postgres.engine.connect() as conn:
        cursor = conn.connection.driver_connection.cursor()
        assert cursor.execute("SELECT unnest(%b::float8[])", [BinaryArray(encoding_of(sa.Float()), [1, 2.5, True])]
                              ).fetchall() == [(1.0,), (2.5,), (1.0,)]
        assert cursor.execute("SELECT unnest(%b::text[])", [BinaryArray(encoding_of(sa.Text()), ["a", 7, None])]
                              ).fetchall() == [("a",), ("7",), (None,)]
        with pytest.raises(psycopg.DataError, match="PostgreSQL type 20"):
            BinaryArray(encoding_of(sa.BigInteger()), [1, 2 ** 63])
        with pytest.raises(psycopg.DataError):
            BinaryArray(encoding_of(sa.Text()), ["\ud800"])


def test_a_batch_the_store_cannot_hold_is_refused_as_a_store_error(postgres):
    from modeldb_core import events as ev
    from modeldb_core.errors import StoreError

    run = ev.uuid7()
    postgres.apply_events([ev.Event(ev.STARTED, run, 1, {"project": "p", "name": "n", "started_at": 1.0})], {})
    with pytest.raises(StoreError):
        postgres.apply_events([ev.Event(ev.METRIC, run, 2, ["loss", 0.5, 2 ** 63, 2.0])], {})
    assert postgres.get_run_detail(run).run.status == "running"  # nothing half-written, the store goes on
