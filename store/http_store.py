"""The store of a client whose URI is ``http(s)://``: ``modeldb server`` over HTTP.

Writes are the tracking runtime's batches of events, posted as they are
(``modeldb_core/wire.py``); the journal stays the durability layer: a server that
is down, restarting or overloaded answers ``StoreUnavailableError``, the writer
backs off and sends the same events again (the server applies them idempotently).
A batch the server refuses as malformed (400) is a ``StoreError``: the writer
then sends it event by event and drops only what is refused.

Reads of runs are ``/api/v1/runs``; the registry, deployments, lineage and the
other reads and writes are the routes declared in ``modeldb_core/server/routes.py``,
answered with the local store's semantics: an error comes back as the class and
message the server's store raised (``wire.error_from_json``). Blobs of the artifact
store travel by content hash (``push_blob``/``pull_blob``). What is left raises
``StoreError`` naming what a remote store cannot do yet. Only the standard library is
used, so a client needs no extra package.
"""
from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Iterator, Sequence

from modeldb_core import wire
from modeldb_core.events import BLOB_KEPT
from modeldb_core.server import routes
from modeldb_core.errors import ModelDBError, NotFoundError, StoreError, StoreUnavailableError

from .interface import MetadataStore

log = logging.getLogger("modeldb")


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
                 params: dict[str, Any] | None = None, typed: bool = True) -> Any:
        return json.loads(self._exchange(method, path, body, params, typed=typed) or b"null")

    def _exchange(self, method: str, path: str, body: bytes | None = None, params: dict[str, Any] | None = None,
                  content_type: str = "application/json", typed: bool = True,
                  headers: dict[str, str] | None = None) -> bytes:
        """The answer's bytes; an error answer raised as the error it names (``_translated``)."""
        return b"".join(self._answer(method, path, body, params, content_type, typed, lambda a: [a.read()],
                                     headers))

    def _answer(self, method: str, path: str, body: bytes | None, params: dict[str, Any] | None,
                content_type: str, typed: bool, read: Any, extra: dict[str, str] | None = None) -> Iterator[Any]:
        """What ``read(answer)`` yields from the answer, read while it arrives; errors as in ``_exchange``."""
        url = self.uri + path
        if params:
            url += "?" + urllib.parse.urlencode({k: v for k, v in params.items() if v is not None}, doseq=True)
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        headers.update(extra or {})
        request = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as answer:
                yield from read(answer)
        except urllib.error.HTTPError as exc:
            raise _translated(exc, self.uri, typed) from None
        except (urllib.error.URLError, OSError) as exc:  # refused, reset, timed out
            reason = getattr(exc, "reason", exc)
            raise StoreUnavailableError(f"cannot reach the ModelDB server at {self.uri}: {reason}") from None

    # -- blobs: uploaded and read back by content hash (docs/server.md) ---------------
    def _push_kept(self, content_hash: str, folder: Any) -> None:
        """Push a blob the journal says this machine keeps; one that is gone from its folder
        since (deleted by hand) is said once and skipped, so it never blocks the batch."""
        from modeldb_core.artifact_store import ArtifactStore

        artifacts = ArtifactStore(folder)
        if not artifacts.exists(content_hash):
            log.warning("blob %s is no longer in %s: not pushed to %s", content_hash, artifacts.root, self.uri)
            return
        self.push_blob(artifacts, content_hash)

    def push_blob(self, artifacts: Any, content_hash: str) -> bool:
        return self._upload(artifacts.path(content_hash), content_hash, artifacts.describe(content_hash))

    def _upload(self, path: Any, content_hash: str, description: dict[str, Any] | None = None) -> bool:
        """Send the file at ``path`` as the blob ``content_hash`` unless the server has it."""
        where = wire.blob_path(content_hash)
        try:
            self._exchange("HEAD", where)
            return True
        except NotFoundError:
            pass
        with open(path, "rb") as fh:
            data = fh.read(wire.MAX_BLOB_BYTES + 1)
        self._exchange("PUT", where, data, content_type="application/octet-stream",
                       headers={wire.DESCRIPTION_HEADER: wire.description_header(description or {})})
        return True

    def pull_blob(self, artifacts: Any, content_hash: str) -> bool:
        import hashlib

        try:
            data, described = next(self._answer("GET", wire.blob_path(content_hash), None, None, "", True,
                                                lambda a: [(a.read(), a.headers.get(wire.DESCRIPTION_HEADER))]))
        except NotFoundError:
            return False
        if f"sha256:{hashlib.sha256(data).hexdigest()}" != wire.blob_name(content_hash):
            from modeldb_core.errors import IntegrityError

            raise IntegrityError(f"the ModelDB server at {self.uri} sent other bytes for {content_hash}; "
                                 "nothing was kept")
        description = {**wire.blob_description(described), "pulled_from": self.uri}
        artifacts.without_remote().put_bytes(data, description)
        return True

    # -- writes ----------------------------------------------------------------------
    def apply_events(self, events: Sequence[Any], definitions: dict[str, Any] | None = None) -> None:
        # Blobs first: an event of the batch (a registered model, a profile tag) names them.
        for event in events:
            if event.kind == BLOB_KEPT:
                self._push_kept(event.subject, event.data.get("folder"))
        for body in wire.split(events, definitions):
            self._request("POST", wire.EVENTS_PATH, body, typed=False)

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
        from modeldb_core.model import RunDetail

        return wire.from_json(RunDetail, self._request("GET", f"/api/v1/runs/{ref}"))

    def search_runs(self, query: Any, limit: int | None = 100, offset: int = 0) -> list[Any]:
        if query.filter is not None and query.text is None:
            raise _remote_cannot("a filter built without its text")
        found = self._request("GET", "/api/v1/runs", params={
            "filter": query.text if query.filter is not None else None, "project": query.project, "search": query.search, "order": [str(k) for k in query.order],
            "limit": limit or 10_000, "offset": offset})
        from modeldb_core.query.records import RunRecord

        return wire.from_json(list[RunRecord], found)

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

    def metric_history(self, run_id, key):
        return self.get_run_detail(run_id).metric_history.get(key, [])

    # -- everything else: the declared routes (modeldb_core/server/routes.py) ---------
    def _call(self, method: str, **kwargs: Any) -> Any:
        route = routes.BY_METHOD[method]
        path = route.url_path.format(**{name: urllib.parse.quote(str(kwargs.pop(name)), safe="")
                                        for name in route.path_args})
        if route.in_query:
            answer = self._request(route.verb, path, params={k: routes.query_text(v) for k, v in kwargs.items()})
        else:
            answer = self._request(route.verb, path, wire.dumps(wire.to_json(kwargs)))
        return wire.from_json(route.returns, answer)

    def runs_by_external_id(self, external_id, orchestrator=None):
        return self._call("runs_by_external_id", external_id=external_id, orchestrator=orchestrator)

    def pipeline_runs(self, ids=None, external_id=None, project=None, limit=1000):
        return self._call("pipeline_runs", ids=list(ids) if ids is not None else None, external_id=external_id,
                          project=project, limit=limit)

    def get_artifact_version(self, artifact_version_id):
        return self._call("get_artifact_version", artifact_version_id=artifact_version_id)

    def find_artifact_versions(self, uri_or_hash):
        return self._call("find_artifact_versions", uri_or_hash=uri_or_hash)

    def artifact_uses(self, version_ids):
        return self._call("artifact_uses", version_ids=list(version_ids))

    def lineage(self, node, direction="up", depth=10):
        return self._call("lineage", node=node, direction=direction, depth=depth)

    def run_recipe(self, run_id):
        return self._call("run_recipe", run_id=run_id)

    def reproductions(self, run_id):
        return self._call("reproductions", run_id=run_id)

    # -- the model registry: synchronous, the caller needs the answer (refused or not) --
    # A model travels as its name and project (a path segment cannot hold the project's '/').
    def create_model(self, name, actor, project=None, description=None, owner=None, tags=None, card=None):
        return self._call("create_model", name=name, project=project, actor=actor, description=description,
                          owner=owner, tags=tags, card=card)

    def update_model(self, name, actor, reason=None, project=None, **changes):
        return self._call("update_model", **_model(name, project), actor=actor, reason=reason, changes=changes)

    def get_model(self, name, project=None):
        return self._call("get_model", **_model(name, project))

    def list_models(self, project=None):
        return self._call("list_models", project=project)

    def register_model_version(self, name, artifact, actor, run=None, description=None, project=None):
        self._upload_model_file(artifact)
        return self._call("register_model_version", name=name, project=project, artifact=artifact, actor=actor,
                          run=run, description=description)

    def _upload_model_file(self, artifact: Any) -> None:
        """A model file of this machine, hashed whole, goes to the server by its content hash, so
        ``load_model`` works where only the server is shared. One hashed by samples (larger than
        the fingerprint's full-hash limit) has no content name to check and stays a path."""
        if not artifact.uri.startswith("file://") or artifact.fingerprint_method != "full":
            return
        path = artifact.uri[len("file://"):]
        if not os.path.isfile(path):
            return
        try:
            wire.blob_name(artifact.content_hash)
        except ModelDBError:
            return  # not a SHA-256 of the content
        self._upload(path, artifact.content_hash)

    def model_versions(self, name, project=None):
        return self._call("model_versions", **_model(name, project))

    def resolve_model(self, ref, at=None, detail=True):
        return self._call("resolve_model", ref=str(ref), at=at, detail=detail)

    def set_policy(self, name, alias, rules, actor, reason=None, project=None):
        return self._call("set_policy", **_model(name, project), alias=alias, rules=rules, actor=actor,
                          reason=reason)

    def get_policy(self, name, alias, project=None):
        return self._call("get_policy", **_model(name, project), alias=alias)

    def policies(self, name, project=None):
        return self._call("policies", **_model(name, project))

    def approve(self, ref, alias, actor, reason=None):
        return self._call("approve", ref=str(ref), alias=alias, actor=actor, reason=reason)

    def approvals(self, name, project=None):
        return self._call("approvals", **_model(name, project))

    def promote(self, ref, alias, actor, reason=None, force=False):
        return self._call("promote", ref=str(ref), alias=alias, actor=actor, reason=reason, force=force)

    def alias_history(self, name, alias=None, project=None):
        return self._call("alias_history", **_model(name, project), alias=alias)

    def audit_events(self, subject=None, limit=1000):
        return self._call("audit_events", subject=subject, limit=limit)

    def iter_audit(self, batch=5000):
        from modeldb_core.registry.model import AuditEvent

        # One event a line, oldest first, decoded as it arrives: a long log is never held whole.
        for line in self._answer("GET", routes.AUDIT_STREAM_PATH, None, None, "", True, iter):
            if line.strip():
                yield wire.from_json(AuditEvent, json.loads(line))

    def verify_audit(self):
        return self._call("verify_audit")

    # -- deployments ------------------------------------------------------------------
    def record_deployment(self, ref, environment, actor, endpoint=None, traffic=None, reason=None, run=None):
        return self._call("record_deployment", ref=None if ref is None else str(ref), environment=environment,
                          actor=actor, endpoint=endpoint, traffic=traffic, reason=reason, run=run)

    def retire_deployment(self, target, actor, environment=None, reason=None):
        return self._call("retire_deployment", target=_number_or_text(target), actor=actor,
                          environment=environment, reason=reason)

    def mark_degraded(self, deployment, reason, actor):
        return self._call("mark_degraded", deployment=_number_or_text(deployment), reason=reason, actor=actor)

    def restore_deployment(self, deployment, reason, actor):
        return self._call("restore_deployment", deployment=_number_or_text(deployment), reason=reason,
                          actor=actor)

    def get_deployment(self, number):
        return self._call("get_deployment", number=number)

    def deployments(self, model=None, environment=None, at=None, history=False):
        return self._call("deployments", model=None if model is None else str(model), environment=environment,
                          at=at, history=history)

    # -- schema: the server's business ----------------------------------------------
    def upgrade(self) -> str | None:
        raise _remote_cannot("upgrading the schema (run `modeldb db upgrade` against the database)")

    def schema_revision(self) -> str | None:
        answer = self._request("GET", "/readyz")
        return answer.get("schema")

    def close(self) -> None:
        pass


def _model(name: Any, project: str | None) -> dict[str, Any]:
    """A model reference (``name``, ``project/name``, ``models:/...``) as the routes take it."""
    from modeldb_core.registry import names

    ref = names.model_ref(name, project)
    return {"name": ref.name, "project": ref.project}


def _number_or_text(target: Any) -> int | str:
    """A deployment (its number) or a model reference (its URI), as it travels."""
    from modeldb_core.registry.model import Deployment

    if isinstance(target, Deployment):
        return target.id
    return target if isinstance(target, int) and not isinstance(target, bool) else str(target)


def _remote_cannot(what: str) -> StoreError:
    return StoreError(f"{what} is not available through a ModelDB server yet; use the database URI")


def _translated(exc: urllib.error.HTTPError, uri: str, typed: bool = True) -> ModelDBError:
    """The error of an answer. ``typed``: the error the server raised, of the same class and
    message (``wire.error_from_json``), as the local store would have raised it. Batches of
    events (not ``typed``) keep the writer's reading: refused tokens and failures are retried
    later, a malformed batch is split."""
    try:
        body = json.loads(exc.read() or b"{}")
    except ValueError:
        body = {}
    found = wire.error_from_json(body) if typed else None
    if found is not None:
        return found
    error = body.get("error", {}) if isinstance(body, dict) else {}
    error = error if isinstance(error, dict) else {}
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
