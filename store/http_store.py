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
used, so a client needs no extra package: ``http.client`` connections kept alive per
thread (a call pays no TCP or TLS handshake), replaced when the server closed them.
"""
from __future__ import annotations

import http.client
import json
import logging
import os
import threading
import time
import urllib.parse
import weakref
from typing import Any, Iterator, Sequence

from modeldb_core import wire
from modeldb_core.events import BLOB_KEPT
from modeldb_core.server import routes
from modeldb_core.errors import ModelDBError, NotFoundError, StoreError, StoreUnavailableError

from .interface import MetadataStore

log = logging.getLogger("modeldb")

# How long a write waits for its answer beyond the store's timeout: what its size needs at
# the slowest pace expected of a busy server (a batch of 5,000 events 10 s more, a blob of
# 512 MiB 64 s), times ``HttpStore._slowness``: doubled each time a write ran out of time
# (the server is slower than that now: queued behind others), halved back as writes answer
# in a quarter of their time. Never more than MAX_PATIENCE (the proxy's own read timeout).
SECONDS_PER_EVENT = 0.002
BYTES_PER_SECOND = 8 * 1024 * 1024
MAX_PATIENCE = 300.0


class HttpStore(MetadataStore):
    def __init__(self, uri: str, token: str | None = None, timeout: float | None = None):
        self.uri = uri.rstrip("/")
        if token is None:
            from modeldb_core import config

            token = config.resolve().token
        self._token = token
        self._timeout = timeout or 30.0
        self._slowness = 1.0  # see SECONDS_PER_EVENT
        self._connections = _Connections(self.uri)

    def _patience(self, events: int = 0, size: int = 0) -> float:
        """How long a write of ``events`` events or ``size`` bytes waits for its answer (see
        SECONDS_PER_EVENT). Shorter than the server takes, the write would be sent again and
        applied twice (harmless, being idempotent, but the server does the work twice)."""
        base = self._timeout + events * SECONDS_PER_EVENT + size / BYTES_PER_SECOND
        return min(MAX_PATIENCE, base * self._slowness)

    def _write(self, patience: float, send: Any) -> None:
        """``send(patience)``, and what its time says of the server's pace (``_slowness``)."""
        started = time.monotonic()
        try:
            send(patience)
        except StoreUnavailableError:
            if time.monotonic() - started >= patience:  # ran out of time: the answer was slower
                self._slowness = min(MAX_PATIENCE, self._slowness * 2)
            raise
        if time.monotonic() - started < patience / 4:
            self._slowness = max(1.0, self._slowness / 2)

    # -- the one way a request goes out ----------------------------------------------
    def _request(self, method: str, path: str, body: bytes | None = None,
                 params: dict[str, Any] | None = None, typed: bool = True, timeout: float | None = None) -> Any:
        return json.loads(self._exchange(method, path, body, params, typed=typed, timeout=timeout) or b"null")

    def _exchange(self, method: str, path: str, body: bytes | None = None, params: dict[str, Any] | None = None,
                  content_type: str = "application/json", typed: bool = True,
                  headers: dict[str, str] | None = None, timeout: float | None = None) -> bytes:
        """The answer's bytes; an error answer raised as the error it names (``_translated``)."""
        return b"".join(self._answer(method, path, body, params, content_type, typed, lambda a: [a.read()],
                                     headers, timeout))

    def _answer(self, method: str, path: str, body: bytes | None, params: dict[str, Any] | None,
                content_type: str, typed: bool, read: Any, extra: dict[str, str] | None = None,
                timeout: float | None = None) -> Iterator[Any]:
        """What ``read(answer)`` yields from the answer, read while it arrives; errors as in ``_exchange``.

        The request goes over a kept-alive connection of this thread (``_Connections``). One the
        server closed meanwhile (its keep-alive ran out, a replica restarted) is replaced, and the
        request sent again on a new one when that cannot apply anything twice: it failed while
        being sent, or it is replayable (reads, blobs by content hash, idempotent event batches)."""
        target = path
        if params:
            target += "?" + urllib.parse.urlencode({k: v for k, v in params.items() if v is not None}, doseq=True)
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        headers.update(self._connections.headers())
        headers.update(extra or {})
        replayable = method in ("GET", "HEAD", "PUT") or path == wire.EVENTS_PATH
        while True:
            connection, reused = self._connections.take(timeout or self._timeout)
            sent = False
            try:
                connection.request(method, self._connections.target(target), body=body, headers=headers)
                sent = True
                answer = connection.getresponse()
                break
            except (OSError, http.client.HTTPException) as exc:  # refused, reset, timed out
                connection.close()
                if reused and (not sent or replayable) and isinstance(exc, _CLOSED_BY_SERVER):
                    continue  # a kept connection the server had closed: on a new one
                raise StoreUnavailableError(f"cannot reach the ModelDB server at {self.uri}: {exc}") from None
        kept = False
        try:
            if answer.status >= 400:
                raise _translated(answer, self.uri, path, typed)
            yield from read(answer)
            kept = answer.isclosed()  # read to its end: the connection is ready for the next request
        except (OSError, http.client.HTTPException) as exc:  # cut off or timed out while arriving
            raise StoreUnavailableError(f"cannot reach the ModelDB server at {self.uri}: {exc}") from None
        finally:
            if kept or (answer.status >= 400 and answer.isclosed()):
                self._connections.give(connection)
            else:
                connection.close()  # left half read (an abandoned stream): nothing else can use it

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
        headers = {wire.DESCRIPTION_HEADER: wire.description_header(description or {})}
        self._write(self._patience(size=len(data)), lambda patience: self._exchange(
            "PUT", where, data, content_type="application/octet-stream", headers=headers, timeout=patience))
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
            self._write(self._patience(len(events)), lambda patience: self._request(
                "POST", wire.EVENTS_PATH, body, typed=False, timeout=patience))

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
        self._connections.close()


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


def _translated(answer: http.client.HTTPResponse, uri: str, path: str, typed: bool = True) -> ModelDBError:
    """The error of an answer. ``typed``: the error the server raised, of the same class and
    message (``wire.error_from_json``), as the local store would have raised it. Batches of
    events (not ``typed``) keep the writer's reading: refused tokens and failures are retried
    later, a malformed batch is split. A server that is over its rate limit or unavailable may
    say how long to wait (``Retry-After``): the error carries it (``StoreUnavailableError.retry_after``)."""
    try:
        body = json.loads(answer.read() or b"{}")
    except ValueError:
        body = {}
    found = wire.error_from_json(body) if typed else None
    retry_after = _retry_after(answer.getheader("Retry-After"))
    if found is not None:
        if isinstance(found, StoreUnavailableError) and retry_after is not None:
            found.retry_after = retry_after
        return found
    error = body.get("error", {}) if isinstance(body, dict) else {}
    error = error if isinstance(error, dict) else {}
    message = error.get("message") or answer.reason
    if answer.status in (401, 403):
        # The events stay in the journal until a valid token is configured.
        return StoreUnavailableError(f"the ModelDB server at {uri} refused the token ({answer.status}): {message}")
    if answer.status == 404:
        return NotFoundError("run", path.rsplit("/", 1)[-1])
    if answer.status in (400, 413, 422):
        # A StoreError: the writer then sends the batch event by event, dropping only what is refused.
        return StoreError(f"the ModelDB server refused the request: {message}")
    return StoreUnavailableError(f"the ModelDB server at {uri} answered {answer.status}: {message}",
                                 retry_after=retry_after)


def _retry_after(header: str | None) -> float | None:
    """The seconds a ``Retry-After`` header asks for (a number of seconds or an HTTP date)."""
    if not header:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


# A kept-alive connection that fails this way was closed by the server (its keep-alive ran out,
# the process restarted) before it took the request: worth one more try on a new connection.
_CLOSED_BY_SERVER = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ConnectionAbortedError)
# Idle connections kept per thread; more are opened when a thread nests requests (a call made
# while reading a stream) and closed when they come back.
_KEPT_PER_THREAD = 4


class _Connections:
    """The kept-alive HTTP/1.1 connections to one server, per thread (``http.client`` is not
    thread-safe; the writer and a reading thread each get their own). TLS as ``urllib``
    does it (the default context: certificates and host names checked), and the proxy the
    environment names (``https_proxy``, ``no_proxy``...), as ``urllib`` honoured it.

    A forked child starts without its parent's connections (two processes must not talk on
    one socket)."""

    def __init__(self, uri: str):
        parts = urllib.parse.urlsplit(uri)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if self._https else 80)
        self._prefix = parts.path.rstrip("/")  # a server mounted under a path of a reverse proxy
        self._proxy = _proxy_for(parts.scheme, self._host)
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._local = threading.local()
        self._opened: weakref.WeakSet[http.client.HTTPConnection] = weakref.WeakSet()

    def target(self, path: str) -> str:
        """What the request line names: the path, or the whole URL through a plain HTTP proxy."""
        if self._proxy is not None and not self._https:
            return f"http://{self._host}:{self._port}{self._prefix}{path}"
        return self._prefix + path

    def take(self, timeout: float) -> tuple[http.client.HTTPConnection, bool]:
        """A connection for one request, and whether it was used before (the server may have
        closed it since, unseen: the caller tries again on a new one)."""
        if self._pid != os.getpid():
            self._reset()
        idle = self._idle()
        while idle:
            connection = idle.pop()
            if connection.sock is not None and not _readable(connection.sock):
                connection.sock.settimeout(timeout)
                return connection, True
            connection.close()  # the server closed it (or sent what was not asked): not reusable
        connection = self._open(timeout)
        with self._lock:
            self._opened.add(connection)
        return connection, False

    def give(self, connection: http.client.HTTPConnection) -> None:
        """A connection whose answer was read to its end, kept for the thread's next request."""
        idle = self._idle()
        if self._pid == os.getpid() and len(idle) < _KEPT_PER_THREAD:
            idle.append(connection)
        else:
            connection.close()

    def close(self) -> None:
        """Close every connection opened (any thread's): the store is closed."""
        with self._lock:
            opened, self._opened = list(self._opened), weakref.WeakSet()
        for connection in opened:
            connection.close()
        self._local = threading.local()

    def _idle(self) -> list[http.client.HTTPConnection]:
        idle = getattr(self._local, "idle", None)
        if idle is None:
            idle = self._local.idle = []
        return idle

    def _open(self, timeout: float) -> http.client.HTTPConnection:
        proxy = self._proxy
        host, port = (proxy.hostname or "", proxy.port or 80) if proxy is not None else (self._host, self._port)
        if self._https:
            connection: http.client.HTTPConnection = http.client.HTTPSConnection(host, port, timeout=timeout)
            if proxy is not None:
                connection.set_tunnel(self._host, self._port, headers=_proxy_headers(proxy))
            return connection
        return http.client.HTTPConnection(host, port, timeout=timeout)

    def headers(self) -> dict[str, str]:
        """What every request adds: a plain HTTP proxy's credentials (a tunnel sends them once)."""
        return _proxy_headers(self._proxy) if self._proxy is not None and not self._https else {}


def _proxy_for(scheme: str, host: str) -> urllib.parse.SplitResult | None:
    """The proxy the environment names for ``scheme`` unless ``no_proxy`` exempts ``host``."""
    import urllib.request

    found = urllib.request.getproxies().get(scheme)
    if not found or urllib.request.proxy_bypass(host):
        return None
    return urllib.parse.urlsplit(found if "://" in found else f"http://{found}")


def _proxy_headers(proxy: urllib.parse.SplitResult) -> dict[str, str]:
    if proxy.username is None:
        return {}
    import base64

    user = urllib.parse.unquote(proxy.username)
    password = urllib.parse.unquote(proxy.password or "")
    return {"Proxy-Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def _readable(sock: Any) -> bool:
    """Whether an idle connection has something to read: the server closed it (or broke the
    protocol). Polled, not selected (``select`` fails on descriptors past 1024)."""
    import select

    try:
        poller = select.poll()
    except AttributeError:  # Windows
        return bool(select.select([sock], [], [], 0)[0])
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


__all__ = ["HttpStore"]
