"""What every command shares: the resolved store URI, opened on first use."""
from __future__ import annotations

from typing import TYPE_CHECKING

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
        return self.client.store

    def reap_quietly(self) -> None:
        """Mark runs whose process died as killed before listing; never fail a listing for it."""
        from modeldb_core.errors import ModelDBError

        try:
            self.client.reap()
        except ModelDBError:
            pass
