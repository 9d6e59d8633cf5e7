"""Opening the store to read it: the one rule of the tracking client (``client.store``), the
query functions given a URI (``search_runs(store=...)``), the command line and the web app.

A ``StoreReader`` opens its store on first use, so building one (a client, an app mounted
inside Airflow) touches no database. Each ``get()`` first waits until the store holds what
this process recorded (``before_read``: the client drains its tracking runtime) and what
processes that just exited handed to a background writer (``modeldb_core.handoff``; a
listing of the store's journal folder when there is none), at most ``handoff.PATIENCE``
seconds, or ``query_timeout`` when that is shorter. ``query_timeout`` also bounds every read
statement of a database store (``store/deadline.py``). ``open()`` is the store without the
wait: what a writer, or a reader that must not wait, uses.
"""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from .config import Settings
    from .store import MetadataStore


class StoreReader:
    """The store of ``settings`` (or of ``uri``, resolved on first use), opened on first use."""

    def __init__(self, settings: "Settings | None" = None, *, uri: str | None = None,
                 query_timeout: float | None = None, before_read: Callable[[], object] | None = None,
                 opened: "MetadataStore | None" = None):
        self._settings = settings
        self._uri = uri
        self.query_timeout = query_timeout
        self._before_read = before_read
        self._store = opened
        self._lock = threading.Lock()

    @property
    def settings(self) -> "Settings":
        if self._settings is None:
            from . import config

            self._settings = config.resolve(uri=self._uri)
        return self._settings

    @property
    def uri(self) -> str | None:
        return self._settings.uri if self._settings is not None else self._uri

    def open(self) -> "MetadataStore":
        """The store, opened once, without waiting for anything."""
        if self._store is None:
            with self._lock:
                if self._store is None:
                    from .store import open_store

                    opened = open_store(self.settings.uri, timeout=self.settings.store_timeout)
                    if self.query_timeout:
                        bound_reads(opened, self.query_timeout)
                    self._store = opened
        return self._store

    def get(self) -> "MetadataStore":
        """The store, once what this process recorded and what exiting processes handed off is in it."""
        if self._before_read is not None:
            self._before_read()
        from . import handoff, journal

        patience = min(handoff.PATIENCE, self.query_timeout or handoff.PATIENCE)
        handoff.wait(journal.folder_for(self.settings.journal, self.settings.uri), patience=patience)
        return self.open()

    def sharing(self, before_read: Callable[[], object] | None = None) -> "StoreReader":
        """A reader of the same settings and opened store (a forked child's client)."""
        return StoreReader(self._settings, uri=self._uri, query_timeout=self.query_timeout,
                           before_read=before_read, opened=self._store)

    def release(self) -> None:
        """Close the store's connections; it stays usable (it reconnects)."""
        from .safety import safe_call

        if self._store is not None:
            safe_call("release the store's connections", self._store.close)

    def close(self) -> None:
        """Close the store; the next use opens it again."""
        from .safety import safe_call

        if self._store is not None:
            safe_call("close the store", self._store.close)
            self._store = None


def bound_reads(store: "MetadataStore", seconds: float | None) -> None:
    """Bound every read statement of a database store by ``seconds`` (``store/deadline.py``)."""
    from .store import deadline
    from .store.sql_store import SqlStore

    if seconds and isinstance(store, SqlStore):
        deadline.install(store.engine, seconds)


__all__ = ["StoreReader", "bound_reads"]
