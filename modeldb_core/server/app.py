"""The ASGI app of ``modeldb server``: health, the write API (tracking events, OpenLineage)
and the reads a remote client needs (``store/http_store.py``)."""
from __future__ import annotations

import logging
import threading
import time
from typing import Any

from modeldb_core.extras import require

require("fastapi", "server", "modeldb server")  # a missing extra is named
from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from modeldb_core import __version__, tokens, wire
from modeldb_core.web.app import StoreHolder
from modeldb_core.errors import (
    AuthenticationError, ModelDBError, QueryError, RequestTooLargeError, StoreUnavailableError,
)

log = logging.getLogger("modeldb.server")


async def read_body(request: Request, limit: int = wire.MAX_BODY_BYTES) -> bytes:
    """The request body, refused past ``limit`` bytes before it is all read."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestTooLargeError(f"{int(declared):,} bytes", limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestTooLargeError(f"more than {limit:,} bytes", limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _access(needed: str):
    """A dependency that lets the request through when its bearer token allows ``needed``."""

    def check(request: Request) -> tokens.ApiToken | None:
        if not request.app.state.auth:
            return None
        header = request.headers.get("authorization", "")
        scheme, _, presented = header.partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            raise AuthenticationError("this server needs a token: Authorization: Bearer mdb_...")
        token_id, secret = tokens.split(presented.strip())
        found = request.app.state.store.get().find_token(token_id)
        return tokens.check(found, secret, needed)

    return check


class Counters:
    """This process's counters, served at /metrics in Prometheus' text format (each replica
    has its own; Prometheus adds them up)."""

    HELP = {
        "modeldb_events_applied_total": "tracking events applied",
        "modeldb_openlineage_events_total": "OpenLineage events accepted",
        "modeldb_batches_total": "batches of events applied",
        "modeldb_batch_seconds_sum": "seconds spent applying batches",
        "modeldb_requests_rejected_total": "requests answered 4xx",
    }

    def __init__(self):
        self.values = dict.fromkeys(self.HELP, 0)
        self._lock = threading.Lock()

    def add(self, **amounts: float) -> None:
        with self._lock:
            for name, amount in amounts.items():
                self.values[f"modeldb_{name}"] += amount

    def text(self) -> str:
        lines = []
        for name, value in self.values.items():
            kind = "counter" if name.endswith("_total") else "gauge"
            lines += [f"# HELP {name} {self.HELP[name]}", f"# TYPE {name} {kind}", f"{name} {value}"]
        return "\n".join(lines) + "\n"


def audit(token: tokens.ApiToken | None, what: str, count: int) -> None:
    """Who wrote what: the token's public id and name, never its secret."""
    who = f"token {token.token_id} ({token.name})" if token is not None else "no token (--no-auth)"
    log.info("%s wrote %d %s", who, count, what)


def build(uri: str | None = None, auth: bool = True, artifacts: str | None = None) -> FastAPI:
    app = FastAPI(title="ModelDB server", version=__version__, docs_url=None, redoc_url=None,
                  openapi_url="/api/v1/openapi.json")
    # The web app's holder, without a read deadline: a batch of writes takes what it takes.
    app.state.store = StoreHolder(uri, query_timeout=None)
    app.state.auth = auth
    # Where blobs uploaded by clients are kept (server/blobs.py); None: this process's setting.
    app.state.artifacts = artifacts
    app.state.counters = counters = Counters()
    # One batch at a time per process: the store caches the ids of projects and definitions
    # a transaction inserted before it commits, and a second transaction of the same process
    # must not use them meanwhile. Replicas and their PostgreSQL take the concurrency.
    apply_lock = threading.Lock()

    def apply_events(events, definitions) -> None:
        with apply_lock:
            app.state.store.get().apply_events(events, definitions)

    app.state.apply_events = apply_events
    app.state.write_lock = apply_lock

    def error(status: int, exc: Exception, **extra: Any) -> Response:
        if 400 <= status < 500:
            counters.add(requests_rejected_total=1)
        body = wire.error_to_json(exc)
        body["error"].update(status=status, **extra)
        return Response(wire.dumps(body), status_code=status, media_type="application/json",
                        headers={"WWW-Authenticate": "Bearer"} if status == 401 else None)

    # The one mapping of errors to HTTP (wire.error_status); the client turns the answer back
    # into the same error (wire.error_from_json).
    @app.exception_handler(ModelDBError)
    def _error(request: Request, exc: ModelDBError):
        status = wire.error_status(exc)
        if status >= 500:
            # The client keeps the batch in its journal and sends it again: nothing is lost.
            log.warning("%s %s failed: %s", request.method, request.url.path, exc)
        return error(status, exc, **({"field": "filter"} if isinstance(exc, QueryError) else {}))

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(counters.text(), media_type="text/plain; version=0.0.4")

    @app.get("/readyz")
    def readyz():
        from modeldb_core.store import migrate

        try:
            revision = app.state.store.get().schema_revision()
        except ModelDBError as exc:
            return error(503, StoreUnavailableError(str(exc)))
        if revision != migrate.HEAD:
            return error(503, StoreUnavailableError(f"schema at {revision}, this server needs {migrate.HEAD}"))
        return {"status": "ready", "schema": revision}

    @app.post(wire.EVENTS_PATH)
    async def post_events(request: Request, token=Depends(_access("write"))) -> dict[str, Any]:
        events, definitions = wire.decode_batch(await read_body(request))
        started = time.perf_counter()
        await run_in_threadpool(apply_events, events, definitions)
        counters.add(events_applied_total=len(events), batches_total=1,
                     batch_seconds_sum=time.perf_counter() - started)
        audit(token, "events", len(events))
        return {"applied": len(events)}

    from . import blobs, lineage, reads, store_api

    lineage.register(app, _access)
    reads.register(app, _access)
    store_api.register(app, _access)
    blobs.register(app, _access)
    return app
