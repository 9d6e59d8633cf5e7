"""The reads of ``modeldb server`` a remote client needs (``runs list``, ``runs show``),
in the wire format (``modeldb_core/wire.py``)."""
from __future__ import annotations

from typing import Any

from modeldb_core.extras import require

require("fastapi", "server", "modeldb server")  # a missing extra is named
from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from modeldb_core import wire


def _json(value: Any) -> Response:
    # NaN and infinity travel as the tracking client's JSON writes them (metric values).
    return Response(wire.dumps(value), media_type="application/json")


def register(app: FastAPI, access) -> None:
    def store():
        return app.state.store.get()

    @app.get("/api/v1/runs")
    async def search(request: Request, filter: str | None = None, project: str | None = None,
                     search: str | None = None,
                     order: list[str] = Query(default=[]), limit: int = Query(100, ge=1, le=10_000),
                     offset: int = Query(0, ge=0), token=Depends(access("read"))) -> Response:
        from modeldb_core.query import build_query

        query = build_query(filter, project=project, search=search, order_by=order or None)
        records = await run_in_threadpool(store().search_runs, query, limit, offset)
        return _json([wire.to_json(r) for r in records])

    @app.get("/api/v1/runs/{ref}")
    async def detail(ref: str, token=Depends(access("read"))) -> Response:
        from modeldb_core.validation import record_id

        found = await run_in_threadpool(store().get_run_detail, record_id("run id", ref))
        return _json(wire.to_json(found))

    @app.get("/api/v1/keys")
    async def keys(project: str | None = None, token=Depends(access("read"))) -> Response:
        return _json(await run_in_threadpool(store().key_names, project))

    @app.get("/api/v1/projects")
    async def projects(token=Depends(access("read"))) -> Response:
        import dataclasses

        found = await run_in_threadpool(store().list_projects)
        return _json([dataclasses.asdict(p) for p in found])
