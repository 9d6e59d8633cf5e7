"""The web UI and JSON API of ModelDB (the ``ui`` extra).

``create_app(uri)`` builds one ASGI app: server-rendered pages plus a JSON API
under ``/api/``. It is read-only, opens the store on the first request (so it
can be built, and mounted inside Airflow, without touching a database), and
makes every link relative to where it is mounted. ``serve`` runs it with
uvicorn, on 127.0.0.1 by default.

Importing this package imports no web framework; ``create_app`` does.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI


def create_app(uri: str | None = None) -> "FastAPI":
    """The ModelDB app over the store at ``uri`` (default: the configured store)."""
    from ..extras import require

    for module in ("fastapi", "jinja2"):
        require(module, "ui", "the web UI")
    from .app import build

    return build(uri)


def serve(host: str = "127.0.0.1", port: int = 5000, uri: str | None = None) -> None:
    """Serve the UI until interrupted (``modeldb ui``).

    Only ``Host`` headers naming the bind address or localhost are answered
    (``ui_allowed_hosts`` widens that); with ``ui_token`` set, every request
    needs the token. Binding beyond loopback without a token prints a warning.
    """
    import sys

    from modeldb_core import config

    from ..extras import require

    from .service import is_loopback, protect

    uvicorn = require("uvicorn", "ui", "modeldb ui")
    settings = config.resolve(uri=uri)
    app = protect(create_app(uri), bind=host, hosts=settings.ui_allowed_hosts, token=settings.ui_token)
    if not settings.ui_token and not is_loopback(host):
        print(f"Warning: serving every recorded run on {host} without authentication; "
              "set MODELDB_UI_TOKEN (or ui_token in the config file) to require a token.",
              file=sys.stderr)
    print(f"ModelDB UI on http://{host}:{port}/ (Ctrl+C to stop)")
    uvicorn.run(app, host=host, port=port, log_level="warning")


__all__ = ["create_app", "serve"]
