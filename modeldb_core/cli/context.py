"""What every command shares: the resolved store URI, opened on first use."""
from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from modeldb_core.client import TrackingClient
    from modeldb_core.store import MetadataStore


class Context:
    def __init__(self, uri: str | None):
        self.uri_argument = uri
        self._client: TrackingClient | None = None

    @property
    def uri(self) -> str:
        from modeldb_core import config

        return config.resolve(uri=self.uri_argument).uri

    @property
    def client(self) -> "TrackingClient":
        """The tracking client for the chosen store (argument > env > config file > default)."""
        if self._client is None:
            from modeldb_core.client import configure, get_client

            self._client = configure(uri=self.uri_argument) if self.uri_argument else get_client()
        return self._client

    @property
    def store(self) -> "MetadataStore":
        """The client's store for reading (``modeldb_core.reading``), each statement bounded by
        ``query_timeout`` when it is set."""
        from modeldb_core.reading import bound_reads

        store = self.client.store
        bound_reads(store, self.client.settings.query_timeout)
        return store

    def reap_quietly(self) -> None:
        """Mark runs whose process died as killed before listing; never fail a listing for it."""
        from modeldb_core.errors import ModelDBError

        try:
            self.client.reap()
        except ModelDBError:
            pass


class RunId(click.ParamType):
    """A run id argument, checked before the store sees it (2**70 is a usage error, not a crash)."""

    name = "RUN_ID"

    def convert(self, value, param, ctx):
        from modeldb_core.errors import ValidationError
        from modeldb_core.validation import record_id

        try:
            return str(record_id("run id", value))
        except ValidationError as exc:
            self.fail(exc.problem + f" (got {str(value)[:40]!r})", param, ctx)


RUN_ID = RunId()
