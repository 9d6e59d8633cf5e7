"""Revision 0002: the planner statistics the query layer relies on, on PostgreSQL."""
from __future__ import annotations

import sqlalchemy as sa


def test_postgres_has_multi_column_statistics_for_filters(postgres_server):
    from modeldb_core.store import open_store

    store = open_store(postgres_server.new_database())
    with store.engine.connect() as conn:
        names = set(conn.execute(sa.text("SELECT stxname FROM pg_statistic_ext")).scalars())
    store.close()
    assert {"st_params_key_value_text", "st_params_key_value_num", "st_tags_key_value"} <= names


def test_postgres_finds_a_param_text_through_the_index_of_its_kind(postgres_server):
    """Revision 0013: strings are in (key, value_text), numbers only in (key, value_num); a
    text equality is answered from the index whichever the text is."""
    import time

    from modeldb_core.model import NewRun
    from modeldb_core.query import build_query
    from modeldb_core.store import open_store
    from modeldb_core.store.query import _Compiler

    store = open_store(postgres_server.new_database())
    now = time.time()
    store.create_runs([NewRun(project="p", name=f"r{i}", started_at=now, status="succeeded", ended_at=now,
                              params={"model": f"m{i % 200}", "lr": i / 8}) for i in range(5000)])
    plans = {}
    with store.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        for text in ('params.model = "m7"', 'params.lr = "0.5"'):
            sql = _Compiler(build_query(text)).select_runs().compile(
                store.engine, compile_kwargs={"literal_binds": True})
            plans[text] = " ".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {sql}"))
        definition = conn.exec_driver_sql(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_params_key_value_text'").scalar_one()
    assert "ix_params_key_value_text" in plans['params.model = "m7"']
    assert "Seq Scan on params" not in plans['params.model = "m7"']
    assert "ix_params_key_value_num" in plans['params.lr = "0.5"']
    assert "Seq Scan on params" not in plans['params.lr = "0.5"']
    assert "value_num IS NULL" in definition
    assert len(store.search_runs(build_query('params.lr = "0.5"'))) == 1
    store.close()
