"""The store of a client whose URI is ``http(s)://``: ``modeldb server`` over HTTP.

Writes are the tracking runtime's batches of events, posted as they are
(``modeldb_core/wire.py``); the journal stays the durability layer: a server that
is down, restarting or overloaded answers ``StoreUnavailableError``, the writer
backs off and sends the same events again (the server applies them idempotently).
A batch the server refuses as malformed (400) is a ``StoreError``: the writer
then sends it event by event and drops only what is refused.

Reads cover what ``modeldb runs list`` and ``runs show``
need; the rest raises ``StoreError`` naming what a remote store cannot do yet.
Only the standard library is used, so a client needs no extra package.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Sequence

from modeldb_core import wire
from modeldb_core.errors import ModelDBError, NotFoundError, StoreError, StoreUnavailableError

from .interface import MetadataStore


class HttpStore(MetadataStore):
    def __init__(self, uri: str, token: str | None = None, timeout: float | None = None):
        self.uri = uri.rstrip("/")
        if token is None:
            from modeldb_core import config

            token = config.resolve().token
        self._token = token
        self._timeout = timeout or 30.0

    # -- the one way a request goes out ----------------------------------------------
    def _request(self, method: str, path: str, body: bytes | None = None,
                 params: dict[str, Any] | None = None) -> Any:
        url = self.uri + path
        if params:
            url += "?" + urllib.parse.urlencode({k: v for k, v in params.items() if v is not None}, doseq=True)
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        request = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as answer:
                return json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise _translated(exc, self.uri) from None
        except (urllib.error.URLError, OSError) as exc:  # refused, reset, timed out
            reason = getattr(exc, "reason", exc)
            raise StoreUnavailableError(f"cannot reach the ModelDB server at {self.uri}: {reason}") from None

    # -- writes ----------------------------------------------------------------------
    def apply_events(self, events: Sequence[Any], definitions: dict[str, Any] | None = None) -> None:
        for body in wire.split(events, definitions):
            self._request("POST", wire.EVENTS_PATH, body)

    def resolve_run(self, ref: int | str) -> int:
        run = self.get_run(ref)
        return run.key

    def create_runs(self, new_runs):
        raise _remote_cannot("importing runs (log_runs)")

    def reap(self, now, stale_after, host, is_alive) -> list[int]:
        # The server cannot see this host's processes; runs whose heartbeats stop are its business.
        return []

    # -- reads -----------------------------------------------------------------------
    def get_run(self, run_id: int | str):
        return self.get_run_detail(run_id).run

    def get_run_detail(self, run_id: int | str):
        ref = urllib.parse.quote(str(run_id), safe="")
        return wire.detail_from_json(self._request("GET", f"/api/v1/runs/{ref}"))

    def search_runs(self, query: Any, limit: int | None = 100, offset: int = 0) -> list[Any]:
        if query.filter is not None and query.text is None:
            raise _remote_cannot("a filter built without its text")
        found = self._request("GET", "/api/v1/runs", params={
            "filter": query.text if query.filter is not None else None, "project": query.project, "search": query.search, "order": [str(k) for k in query.order],
            "limit": limit or 10_000, "offset": offset})
        return [wire.record_from_json(r) for r in found]

    def stream_runs(self, query: Any, batch: int = 1000):
        offset = 0
        while True:
            page = self.search_runs(query, limit=batch, offset=offset)
            yield from page
            if len(page) < batch:
                return
            offset += batch

    def list_runs(self, project: str | None = None, limit: int = 100, offset: int = 0):
        from modeldb_core.query import build_query

        return [r.run for r in self.search_runs(build_query(project=project), limit, offset)]

    def key_names(self, project: str | None = None) -> dict[str, list[str]]:
        return self._request("GET", "/api/v1/keys", params={"project": project})

    def list_projects(self):
        from modeldb_core.model import Project

        return [Project(**p) for p in self._request("GET", "/api/v1/projects")]

    def runs_by_external_id(self, external_id, orchestrator=None):
        raise _remote_cannot("reading runs by task instance")

    def pipeline_runs(self, ids=None, external_id=None, project=None, limit=1000):
        raise _remote_cannot("reading pipeline runs")

    def metric_history(self, run_id, key):
        return self.get_run_detail(run_id).metric_history.get(key, [])

    def get_artifact_version(self, artifact_version_id):
        raise _remote_cannot("reading artifact versions")

    def find_artifact_versions(self, uri_or_hash):
        raise _remote_cannot("finding artifact versions")

    def lineage(self, node, direction="up", depth=10):
        raise _remote_cannot("lineage (use the server's web UI)")

    def run_recipe(self, run_id):
        raise _remote_cannot("reproducing a run")

    def reproductions(self, run_id):
        raise _remote_cannot("reproductions")

    # -- schema: the server's business ----------------------------------------------
    def upgrade(self) -> str | None:
        raise _remote_cannot("upgrading the schema (run `modeldb db upgrade` against the database)")

    def schema_revision(self) -> str | None:
        answer = self._request("GET", "/readyz")
        return answer.get("schema")

    def close(self) -> None:
        pass


def _remote_cannot(what: str) -> StoreError:
    return StoreError(f"{what} is not available through a ModelDB server yet; use the database URI")


def _translated(exc: urllib.error.HTTPError, uri: str) -> ModelDBError:
    try:
        error = json.loads(exc.read() or b"{}").get("error", {})
    except ValueError:
        error = {}
    message = error.get("message") or exc.reason
    if exc.code in (401, 403):
        # The events stay in the journal until a valid token is configured.
        return StoreUnavailableError(f"the ModelDB server at {uri} refused the token ({exc.code}): {message}")
    if exc.code == 404:
        return NotFoundError("run", exc.url.rsplit("/", 1)[-1].split("?", 1)[0])
    if exc.code in (400, 413, 422):
        # A StoreError: the writer then sends the batch event by event, dropping only what is refused.
        return StoreError(f"the ModelDB server refused the request: {message}")
    return StoreUnavailableError(f"the ModelDB server at {uri} answered {exc.code}: {message}")


__all__ = ["HttpStore"]
