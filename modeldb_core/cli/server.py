"""``modeldb ui`` and ``modeldb demo``: both import their modules only when run."""
from __future__ import annotations

import click


@click.command("ui")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to listen on.")
@click.pass_obj
def ui(obj, host: str, port: int) -> None:
    """Serve the web UI."""
    from modeldb_core import web

    web.serve(host=host, port=port, uri=obj.uri_argument)


@click.command("demo")
@click.pass_obj
def demo(obj) -> None:
    """Track a small house-price project end to end, then print what was kept."""
    from modeldb_core.demo import run_demo

    run_demo(uri=obj.uri_argument)


def register(cli: click.Group) -> None:
    cli.add_command(ui)
    cli.add_command(demo)
