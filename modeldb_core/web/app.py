"""Building the ASGI app: one store, pages, the JSON API, static files, error pages."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from modeldb_core.extras import require

require("fastapi", "ui", "the web UI")  # a missing extra is named
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from modeldb_core import __version__
from modeldb_core.reading import StoreReader
from modeldb_core.errors import (
    ModelDBError, NotFoundError, QueryCancelledError, QueryError, QueryTimeoutError, ValidationError,
)

HERE = Path(__file__).parent


def local_path(request: Request) -> str:
    """The request path below the mount point (``/api/...`` even under ``/modeldb``)."""
    path = request.scope.get("path", "")
    root = request.scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root):]
    return path or "/"


def wants_json(request: Request) -> bool:
    return local_path(request).startswith("/api/")


def build(uri: str | None = None, query_timeout: float | None = None) -> FastAPI:
    from modeldb_core import config

    from . import api, deployments, models, monitoring, pages
    from .render import Renderer
    from .service import DEFAULT_QUERY_TIMEOUT, ReadDeadline, SecurityHeaders

    if query_timeout is None:
        try:
            query_timeout = config.resolve(uri=uri).query_timeout or DEFAULT_QUERY_TIMEOUT
        except ModelDBError:
            # A broken setting is reported when the store is opened, on the first request.
            query_timeout = DEFAULT_QUERY_TIMEOUT

    app = FastAPI(
        title="ModelDB",
        version=__version__,
        description="Read-only JSON API over everything ModelDB recorded: projects, runs "
                    "(filter language, sorting, paging), run detail, metric series, lineage, compare.",
        # FastAPI's Swagger and ReDoc pages load their scripts from a CDN; the UI must not
        # touch the network, so /api-docs renders the OpenAPI schema itself.
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    # Opened on the first request; each request's reads wait for handed-off journals and are
    # bounded by the read deadline (modeldb_core.reading).
    app.state.store = StoreReader(uri=uri, query_timeout=query_timeout)
    # Outermost last: the headers are on every answer, errors from the deadline included.
    app.add_middleware(ReadDeadline, seconds=query_timeout)
    app.add_middleware(SecurityHeaders)
    app.state.renderer = Renderer()
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(api.router)
    app.include_router(models.api)
    app.include_router(deployments.api)
    app.include_router(monitoring.api)
    app.include_router(pages.router)
    app.include_router(monitoring.pages)
    app.include_router(models.pages)
    app.include_router(deployments.pages)

    def error_page(request: Request, status: int, title: str, message: str,
                   extra: dict[str, Any] | None = None):
        if wants_json(request):
            return JSONResponse({"error": {"status": status, "message": message, **(extra or {})}},
                                status_code=status)
        return app.state.renderer.page(request, "error.html", {"title": title, "message": message},
                                       status_code=status)

    @app.exception_handler(NotFoundError)
    def _not_found(request: Request, exc: NotFoundError):
        return error_page(request, 404, "Not found", str(exc))

    @app.exception_handler(QueryError)
    def _query_error(request: Request, exc: QueryError):
        return error_page(request, 400, "Bad query", str(exc),
                          {"kind": "query", "query_message": exc.message, "text": exc.text,
                           "position": exc.position})

    @app.exception_handler(ValidationError)
    def _invalid(request: Request, exc: ValidationError):
        return error_page(request, 400, "Bad request", str(exc), {"field": exc.field})

    @app.exception_handler(QueryTimeoutError)
    def _too_slow(request: Request, exc: QueryTimeoutError):
        return error_page(request, 503, "Query too slow", str(exc),
                          {"kind": "timeout", "limit": "query_timeout", "seconds": exc.seconds})

    @app.exception_handler(QueryCancelledError)
    def _cancelled(request: Request, exc: QueryCancelledError):
        # Nobody reads this answer (the client left); the log says the work stopped.
        import logging

        logging.getLogger("modeldb.web").warning("stopped %s %s: %s", request.method,
                                                 local_path(request), exc)
        return error_page(request, 499, "Cancelled", str(exc), {"kind": "cancelled"})

    @app.exception_handler(ModelDBError)
    def _store_error(request: Request, exc: ModelDBError):
        return error_page(request, 503, "Store unavailable", str(exc))

    @app.exception_handler(RequestValidationError)
    def _bad_params(request: Request, exc: RequestValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}"
                             for e in exc.errors())
        if wants_json(request):
            return JSONResponse({"error": {"status": 422, "message": problems}}, status_code=422)
        # A page address with a malformed id names nothing: that is a 404 to a reader;
        # a malformed query parameter (limit=abc) is a bad request.
        if any(e.get("loc", ("",))[0] == "path" for e in exc.errors()):
            return error_page(request, 404, "Not found", f"nothing at this address ({problems})")
        return error_page(request, 400, "Bad request", problems)

    @app.exception_handler(StarletteHTTPException)
    def _http(request: Request, exc: StarletteHTTPException):
        title = "Not found" if exc.status_code == 404 else "Error"
        message = "nothing at this address" if exc.status_code == 404 else str(exc.detail)
        return error_page(request, exc.status_code, title, message)

    return app
