"""Schema versions: checked cheaply on open, upgraded with Alembic when asked.

Opening a store reads ``alembic_version`` directly (importing Alembic costs
~0.5 s, too much for every CLI call). A fresh, empty database is upgraded
automatically, under a lock so that many processes opening it at once create
it once. A database at an older revision needs ``modeldb db upgrade``; one at
a revision this code does not know was written by a newer ModelDB and is
refused.
"""
from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from modeldb_core.errors import SchemaOutdatedError, SchemaTooNewError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Every revision in migrations/versions, oldest first; tests check this list
# against Alembic's own view of the scripts.
REVISIONS = ("0001", "0002", "0003", "0004", "0005", "0007", "0008", "0010", "0011", "0012", "0013")
HEAD = REVISIONS[-1]


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        try:
            row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
        except DBAPIError:
            return None
    return row[0] if row else None


def _alembic_config(connection):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


@contextlib.contextmanager
def _migration_lock(engine: Engine):
    """Hold a lock that only one migrating process at a time can take."""
    if engine.dialect.name == "postgresql":
        key = int(hashlib.sha256(b"modeldb-migrate").hexdigest()[:15], 16)
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
        return
    database = engine.url.database
    if not database or database == ":memory:":
        yield
        return
    import fcntl

    with open(database + ".migrate-lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Bring the schema up to ``revision`` (default: the newest)."""
    from alembic import command

    with _migration_lock(engine):
        _refuse_unknown(current_revision(engine), engine)
        _migrate(engine, lambda conn: command.upgrade(_alembic_config(conn), revision))
    return current_revision(engine)


# Set on a SQLite connection by a revision that switched foreign keys off to copy a table
# (SQLite allows that only outside a transaction); they are switched back on after commit.
FOREIGN_KEYS_OFF = "modeldb.foreign_keys_off"


def _migrate(engine: Engine, work) -> None:
    """Run ``work`` (Alembic commands) and record the ModelDB version, in one transaction."""
    with engine.connect() as conn:
        try:
            with conn.begin():
                work(conn)
                _record_version(conn)
        finally:
            if conn.info.pop(FOREIGN_KEYS_OFF, False):
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")


def _record_version(conn) -> None:
    """Say in the store which ModelDB created or last upgraded its schema (``store_info``)."""
    from sqlalchemy import inspect as inspect_

    from modeldb_core import __version__

    if "store_info" not in inspect_(conn).get_table_names():
        return  # a schema older than revision 0004
    conn.execute(text("DELETE FROM store_info WHERE key = 'modeldb_version'"))
    conn.execute(text("INSERT INTO store_info (key, value) VALUES ('modeldb_version', :v)"), {"v": __version__})


def recorded_version(engine: Engine) -> str | None:
    """The ModelDB version that created or last upgraded the schema, if it says."""
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT value FROM store_info WHERE key = 'modeldb_version'")).scalar()
    except DBAPIError:
        return None


def _refuse_unknown(revision: str | None, engine: Engine) -> None:
    if revision is not None and revision not in REVISIONS:
        raise SchemaTooNewError(
            f"the database at {engine.url.render_as_string(hide_password=True)} has schema "
            f"revision {revision!r}, newer than this ModelDB knows ({HEAD!r}); "
            "upgrade the modeldb package instead of writing to it"
        )


def ensure_schema(engine: Engine) -> None:
    """Check the schema on open; create it when the database is empty."""
    revision = current_revision(engine)
    if revision == HEAD:
        return
    _refuse_unknown(revision, engine)
    if revision is None:
        with _migration_lock(engine):
            revision = current_revision(engine)
            if revision is None:
                existing = set(inspect(engine).get_table_names())
                if existing & {"runs", "projects"}:
                    raise SchemaOutdatedError(
                        "the database has ModelDB tables but no schema revision; "
                        "it was not created by this ModelDB"
                    )
                from alembic import command

                _migrate(engine, lambda conn: command.upgrade(_alembic_config(conn), "head"))
                return
    if revision != HEAD:
        raise SchemaOutdatedError(
            f"the database schema is at revision {revision!r}, this ModelDB needs {HEAD!r}: "
            "run `modeldb db upgrade`"
        )
