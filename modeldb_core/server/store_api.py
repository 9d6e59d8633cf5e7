"""The registry, deployments and the other store reads and writes of a remote client: one
handler per declared route (``routes.py``), each calling the server's store method as is.

Reads need a read token, writes a write token (``routes.Route.scope``). Writes run one at a
time per process on SQLite, side by side on PostgreSQL, like batches of events
(``app.state.writing``). Every write is logged with the token's
identity (``app.audit``). The ``actor`` a registry write records (audit log, alias history,
approvals, deployments) is the token's name, whatever the client names (``app.acting``);
only a server without tokens (``--no-auth``) records the client's.
"""
from __future__ import annotations

import json
from typing import Any

from modeldb_core.extras import require

require("fastapi", "server", "modeldb server")  # a missing extra is named
from fastapi import Depends, FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from modeldb_core import wire
from modeldb_core.errors import ValidationError

from . import routes
from .app import acting, audit, read_body


def _arguments(route: routes.Route, request: Request, body: bytes) -> dict[str, Any]:
    kwargs: dict[str, Any] = {name: routes.query_value(route.args[name], text) if name in route.args else text
                              for name, text in request.path_params.items()}
    if route.in_query:
        for name, expected in route.args.items():
            if name in request.query_params:
                kwargs[name] = routes.query_value(expected, request.query_params[name])
    elif body:
        try:
            given = json.loads(body)
        except ValueError as exc:
            raise ValidationError("body", body[:80], f"is not JSON: {exc}") from None
        if not isinstance(given, dict):
            raise ValidationError("body", given, "must be an object of the call's arguments")
        allowed = [name for name in route.args if name not in route.path_args]
        unknown = sorted(set(given) - set(allowed))
        if unknown:
            raise ValidationError(f"body.{unknown[0]}", given[unknown[0]],
                                  f"is not an argument of {route.method} ({', '.join(allowed)})")
        kwargs.update({name: wire.from_json(route.args[name], value) for name, value in given.items()})
    if route.spread is not None:
        kwargs.update(kwargs.pop(route.spread, None) or {})
    return kwargs


def register(app: FastAPI, access) -> None:
    def handler(route: routes.Route):
        def call(kwargs: dict[str, Any]) -> Any:
            store = app.state.store.get()
            if route.scope == routes.READ:
                return getattr(store, route.method)(**kwargs)
            with app.state.writing() as writable:
                return getattr(writable, route.method)(**kwargs)

        async def answer(request: Request, token=Depends(access(route.scope))) -> Response:
            body = b"" if route.in_query else await read_body(request)
            kwargs = _arguments(route, request, body)
            if "actor" in route.args and token is not None:
                kwargs["actor"] = acting(token, kwargs.get("actor"))
            result = await run_in_threadpool(call, kwargs)
            if route.scope == routes.WRITE:
                audit(token, route.method, 1)
            return Response(wire.dumps(wire.to_json(result)), media_type="application/json")

        answer.__name__ = route.method
        return answer

    for route in routes.ROUTES:
        app.add_api_route(route.url_path, handler(route), methods=[route.verb], include_in_schema=True)

    @app.get(routes.AUDIT_STREAM_PATH)
    def audit_log(token=Depends(access(routes.READ))) -> StreamingResponse:
        # A sync generator: Starlette iterates it in its thread pool, a batch of rows at a time.
        lines = (wire.dumps(wire.to_json(event)) + b"\n" for event in app.state.store.get().iter_audit())
        return StreamingResponse(lines, media_type="application/x-ndjson")
