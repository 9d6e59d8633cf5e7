"""The ASGI app of ``modeldb server``: health, the write API (tracking events, OpenLineage)
and the reads a remote client needs (``store/http_store.py``)."""
from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any, Iterator

from modeldb_core.extras import require

require("fastapi", "server", "modeldb server")  # a missing extra is named
from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from modeldb_core import __version__, collector, tokens, wire
from modeldb_core.events import ACTOR_KINDS
from modeldb_core.reading import StoreReader
from modeldb_core.errors import (
    AuthenticationError, ModelDBError, QueryError, RateLimitedError, RequestTooLargeError,
    StoreUnavailableError,
)
from .limits import RateLimiter

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
            limit(request, None)
            return None
        header = request.headers.get("authorization", "")
        scheme, _, presented = header.partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            raise AuthenticationError("this server needs a token: Authorization: Bearer mdb_...")
        token_id, secret = tokens.split(presented.strip())
        found = request.app.state.store.get().find_token(token_id)
        token = tokens.check(found, secret, needed)
        limit(request, token)
        return token

    return check


def limit(request: Request, token: tokens.ApiToken | None) -> None:
    """Count the request against its token's rate limit (by client address without a token)."""
    limiter = request.app.state.rate_limiter
    if limiter is None:
        return
    if token is not None:
        limiter.take(f"token:{token.token_id}", f"token {token.token_id} ({token.name})")
    else:
        host = request.client.host if request.client else "unknown"
        limiter.take(f"host:{host}", f"client {host}")


class Counters:
    """This process's counters, served at /metrics in Prometheus' text format (each replica
    has its own; Prometheus adds them up)."""

    HELP = {
        "modeldb_events_applied_total": "tracking events applied",
        "modeldb_openlineage_events_total": "OpenLineage events accepted",
        "modeldb_batches_total": "batches of events applied",
        "modeldb_batch_seconds_sum": "seconds spent applying batches",
        "modeldb_requests_rejected_total": "requests answered 4xx",
        "modeldb_requests_rate_limited_total": "requests answered 429 (over a token's rate limit)",
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


def acting(token: tokens.ApiToken | None, claimed: str | None) -> str | None:
    """Who a registry change is by: the token's name (the one it was made for: a person or a
    service), never what the client claims; without tokens (``--no-auth``), the claim."""
    return claimed if token is None else token.name


def attributed(events: list[Any], token: tokens.ApiToken | None) -> list[Any]:
    """The batch with the actor of its registry events (``events.ACTOR_KINDS``) made the token's."""
    if token is None:
        return events
    return [e._replace(data={**e.data, "actor": acting(token, e.data.get("actor"))})
            if e.kind in ACTOR_KINDS and isinstance(e.data, dict) else e for e in events]


def audit(token: tokens.ApiToken | None, what: str, count: int) -> None:
    """Who wrote what: the token's public id and name, never its secret."""
    who = f"token {token.token_id} ({token.name})" if token is not None else "no token (--no-auth)"
    log.info("%s wrote %d %s", who, count, what)


def build(uri: str | None = None, auth: bool = True, artifacts: str | None = None,
          rate_limit: float | None = None) -> FastAPI:
    """The app over the store at ``uri``; ``artifacts``: where uploaded blobs are kept;
    ``rate_limit``: requests per second a token may send."""
    app = FastAPI(title="ModelDB server", version=__version__, docs_url=None, redoc_url=None,
                  openapi_url="/api/v1/openapi.json")
    # The web app's holder, without a read deadline: a batch of writes takes what it takes.
    app.state.store = StoreReader(uri=uri)
    app.state.auth = auth
    # Where blobs uploaded by clients are kept (server/blobs.py); None: this process's setting.
    app.state.artifacts = artifacts
    app.state.rate_limiter = RateLimiter(rate_limit) if rate_limit else None
    app.state.counters = counters = Counters()
    # SQLite takes one writer at a time (a lock on the file): batches of this process queue
    # here rather than spin on the store's busy retries. PostgreSQL applies them side by side
    # (one connection each): the ids of projects and definitions a transaction makes reach
    # the store's shared cache only once it commits (store/sql_store.py, _cached_id).
    sqlite_writer = threading.Lock()

    @contextlib.contextmanager
    def writing() -> Iterator[Any]:
        """The store, for one write: batches of events and registry changes (store_api.py)."""
        store = app.state.store.get()
        with sqlite_writer if store.engine.dialect.name == "sqlite" else contextlib.nullcontext():
            yield store

    def apply_events(events, definitions) -> None:
        with writing() as store:
            store.apply_events(events, definitions)

    app.state.apply_events = apply_events
    app.state.writing = writing

    def decode_and_apply(body: bytes, token: tokens.ApiToken | None) -> int:
        with collector.paused():  # as a replay parses and applies a journal (collector.py)
            events, definitions = wire.decode_batch(body)
            apply_events(attributed(events, token), definitions)
        return len(events)

    def error(status: int, exc: Exception, headers: dict[str, str] | None = None, **extra: Any) -> Response:
        if 400 <= status < 500:
            counters.add(requests_rejected_total=1)
        if status == 401:
            headers = {"WWW-Authenticate": "Bearer"}
        body = wire.error_to_json(exc)
        body["error"].update(status=status, **extra)
        return Response(wire.dumps(body), status_code=status, media_type="application/json", headers=headers)

    # The one mapping of errors to HTTP (wire.error_status); the client turns the answer back
    # into the same error (wire.error_from_json).
    @app.exception_handler(ModelDBError)
    def _error(request: Request, exc: ModelDBError):
        status = wire.error_status(exc)
        if status >= 500:
            # The client keeps the batch in its journal and sends it again: nothing is lost.
            log.warning("%s %s failed: %s", request.method, request.url.path, exc)
        if isinstance(exc, RateLimitedError):
            counters.add(requests_rate_limited_total=1)
            return error(status, exc, headers={"Retry-After": f"{exc.retry_after:.0f}"})
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
        body = await read_body(request)
        started = time.perf_counter()
        # Decoding and checking a batch is CPU work: done in the worker thread with the batch,
        # it overlaps another request's wait on the database and leaves the event loop free.
        applied = await run_in_threadpool(decode_and_apply, body, token)
        counters.add(events_applied_total=applied, batches_total=1,
                     batch_seconds_sum=time.perf_counter() - started)
        audit(token, "events", applied)
        return {"applied": applied}

    from . import blobs, lineage, reads, store_api

    lineage.register(app, _access)
    reads.register(app, _access)
    store_api.register(app, _access)
    blobs.register(app, _access)
    return app
