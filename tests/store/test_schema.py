"""Schema creation, versions and refusal of newer schemas, on both databases."""
from __future__ import annotations

import sqlalchemy as sa
import pytest

from modeldb_core.errors import SchemaOutdatedError, SchemaTooNewError
from modeldb_core.store import migrate, open_store


def test_fresh_database_is_created_at_head(store):
    assert store.schema_revision() == migrate.HEAD
    names = set(sa.inspect(store.engine).get_table_names())
    assert {"runs", "params", "metrics", "latest_metrics", "tags", "notes", "artifacts",
            "artifact_versions", "run_io", "code_versions", "environments", "pipelines",
            "pipeline_runs", "projects"} <= names


def test_revision_list_matches_the_migration_scripts():
    from alembic.script import ScriptDirectory
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrate.MIGRATIONS))
    scripts = ScriptDirectory.from_config(cfg)
    assert scripts.get_heads() == [migrate.HEAD]
    ordered = [s.revision for s in reversed(list(scripts.walk_revisions()))]
    assert tuple(ordered) == migrate.REVISIONS


def test_newer_schema_is_refused(store_uri):
    open_store(store_uri).close()
    engine = sa.create_engine(store_uri)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999_future'"))
    engine.dispose()
    with pytest.raises(SchemaTooNewError, match="9999_future"):
        open_store(store_uri)


def test_foreign_tables_without_revision_are_refused(sqlite_uri):
    engine = sa.create_engine(sqlite_uri)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE runs (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    with pytest.raises(SchemaOutdatedError):
        open_store(sqlite_uri)


def test_upgrade_is_idempotent(store):
    assert store.upgrade() == migrate.HEAD
    assert store.upgrade() == migrate.HEAD


def test_sqlite_pragmas(sqlite_uri):
    store = open_store(sqlite_uri)
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 30000
    store.close()


def test_reaping_uses_the_partial_index_of_running_runs(sqlite_uri):
    import time

    from modeldb_core.model import NewRun

    store = open_store(sqlite_uri)
    now = time.time()
    store.create_runs([NewRun(project="p", name="r", started_at=now, status="succeeded", ended_at=now)
                       for _ in range(5000)] + [NewRun(project="p", name="live", started_at=now)])
    with store.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        compiled = store._running_runs.compile(store.engine)
        plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}"))
    assert "ix_runs_running" in plan, plan
    assert [r.name for r in store.list_runs() if r.status == "running"] == ["live"]
    store.close()


def test_older_schema_asks_for_upgrade_then_upgrades(store_uri):
    from alembic import command

    store = open_store(store_uri)
    with store.engine.begin() as conn:
        command.downgrade(migrate._alembic_config(conn), migrate.REVISIONS[-2])
    store.close()
    with pytest.raises(SchemaOutdatedError, match="modeldb db upgrade"):
        open_store(store_uri)
    old = open_store(store_uri, check_schema=False)
    assert old.upgrade() == migrate.HEAD
    old.close()
    open_store(store_uri).close()


def test_the_store_says_which_modeldb_wrote_its_schema(store):
    from modeldb_core import __version__

    assert migrate.recorded_version(store.engine) == __version__
    store.upgrade()
    assert migrate.recorded_version(store.engine) == __version__


def test_a_runs_values_refer_to_it_by_foreign_key_on_sqlite_only(store):
    """Revision 0012: on PostgreSQL the foreign key triggers of a run's values were a third of
    the server's CPU on a batch of runs; the event path keeps values and runs together
    (tests/store/test_conformance.py checks it on both databases)."""
    inspector = sa.inspect(store.engine)
    referring = {table for table in ("params", "metrics", "latest_metrics", "tags")
                 if any(k["referred_table"] == "runs" for k in inspector.get_foreign_keys(table))}
    expected = set() if store.dialect == "postgresql" else {"params", "metrics", "latest_metrics", "tags"}
    assert referring == expected
    assert any(k["referred_table"] == "runs" for k in inspector.get_foreign_keys("notes"))
