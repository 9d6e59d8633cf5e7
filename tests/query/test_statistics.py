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
