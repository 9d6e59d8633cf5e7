"""``modeldb server``: the tracking server (HTTP write API over the store, tokens, OpenLineage).

Stateless: every request opens nothing but what the store's connection pool
holds, so several replicas behind a load balancer share one PostgreSQL (a SQLite
file suits one replica). Imported only by the ``server`` command and the tests:
FastAPI and uvicorn stay out of ``import modeldb_core``.
"""
from __future__ import annotations

import gc
import sys


def serve(host: str = "127.0.0.1", port: int = 8080, uri: str | None = None,
          no_auth: bool = False, workers: int = 1, ssl_certfile: str | None = None,
          ssl_keyfile: str | None = None, plain_http: bool = False, rate_limit: float | None = None) -> None:
    """Serve until interrupted. Without ``no_auth`` every request but /healthz needs a token;
    ``no_auth`` is refused on a bind beyond loopback, and so is plain HTTP (tokens in clear)
    unless ``plain_http`` says TLS ends before the server (a reverse proxy). ``rate_limit``:
    requests per second a token may send (429 beyond)."""
    from modeldb_core.errors import ValidationError
    from modeldb_core.extras import require
    from modeldb_core.web.service import is_loopback

    uvicorn = require("uvicorn", "server", "modeldb server")
    if no_auth and not is_loopback(host):
        raise ValidationError("--no-auth", host, "is only allowed on a loopback address (127.0.0.1, ::1)")
    if not is_loopback(host) and not ssl_certfile and not plain_http:
        raise ValidationError("--host", host, "beyond loopback needs TLS (--ssl-certfile/--ssl-keyfile), or "
                              "--plain-http when a reverse proxy ends TLS in front of the server: tokens "
                              "must not cross a network in clear")
    from .app import build

    app = build(uri, auth=not no_auth, rate_limit=rate_limit)
    # The store is opened (and a fresh one created) before the first request, not during it.
    app.state.store.get()
    # What is loaded now (FastAPI, SQLAlchemy, psycopg, the schema) lives as long as the
    # process: frozen out of the garbage collector's way, so the full collections that a
    # batch's tens of thousands of decoded events set off walk the batch's own objects, not
    # all of those (a third less CPU per batch on PostgreSQL, bench/README.md).
    gc.collect()
    gc.freeze()
    print(f"ModelDB server on http://{host}:{port}/ ({'no authentication' if no_auth else 'tokens required'})",
          file=sys.stderr, flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", workers=workers,
                timeout_graceful_shutdown=30, ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile)


__all__ = ["serve"]
