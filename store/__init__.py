"""The SQL store of ModelDB (installed as ``modeldb_core.store``).

One interface (``MetadataStore``), one SQLAlchemy implementation; SQLite or
PostgreSQL is only a matter of the URI.
"""
from __future__ import annotations

from .interface import MetadataStore


def open_store(uri: str, check_schema: bool = True, timeout: float | None = None) -> MetadataStore:
    """Open the store at a SQLAlchemy URI (``sqlite:///...`` or ``postgresql+psycopg://...``),
    or a ``modeldb server`` at ``http(s)://host:port`` (token: ``MODELDB_TOKEN``).

    ``timeout`` bounds, in seconds, how long one store call may wait (see ``engine.make_engine``).
    """
    if uri.startswith(("http://", "https://")):
        from .http_store import HttpStore

        return HttpStore(uri, timeout=timeout)
    from .engine import make_engine
    from .sql_store import SqlStore

    return SqlStore(uri, engine=make_engine(uri, timeout), check_schema=check_schema)


__all__ = ["MetadataStore", "open_store"]
