"""``modeldb server`` and ``modeldb tokens create|list|revoke`` (tokens live in the database:
run these against its URI, not the server's)."""
from __future__ import annotations

import click

from . import output


@click.command("server")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port to listen on.")
@click.option("--workers", default=1, show_default=True, type=int, help="uvicorn worker processes.")
@click.option("--no-auth", is_flag=True, help="Accept requests without a token (loopback binds only).")
@click.option("--ssl-certfile", type=click.Path(exists=True, dir_okay=False), help="Serve HTTPS with this certificate.")
@click.option("--ssl-keyfile", type=click.Path(exists=True, dir_okay=False), help="The certificate's key.")
@click.option("--plain-http", is_flag=True,
              help="Serve plain HTTP beyond loopback (TLS ends at a reverse proxy in front).")
@click.option("--rate-limit", type=click.FloatRange(min=0, min_open=True), default=None, metavar="PER_SECOND",
              help="Requests per second one token may send to one replica (429 with Retry-After beyond).")
@click.pass_obj
def server(obj, host: str, port: int, workers: int, no_auth: bool, ssl_certfile: str | None,
           ssl_keyfile: str | None, plain_http: bool, rate_limit: float | None) -> None:
    """Serve the tracking server: events and OpenLineage in over HTTP, for remote clients."""
    from modeldb_core.server import serve

    serve(host=host, port=port, uri=obj.uri_argument, no_auth=no_auth, workers=workers,
          ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile, plain_http=plain_http, rate_limit=rate_limit)


@click.group("tokens")
def tokens_group() -> None:
    """Access tokens of `modeldb server` (kept hashed; a token is shown once)."""


def _store(obj):
    from modeldb_core.store import open_store

    return open_store(obj.uri)


@tokens_group.command("create")
@click.argument("name")
@click.option("--scope", type=click.Choice(["read", "write", "admin"]), default="write", show_default=True)
@click.option("--expires-in", "expires_in", type=float, default=None, metavar="DAYS",
              help="Days until the token expires (default: never).")
@click.pass_obj
def create(obj, name: str, scope: str, expires_in: float | None) -> None:
    """Make a token and print it (once: only its hash is kept)."""
    import time

    from modeldb_core import tokens, validation

    validation.name("name", name)
    expires_at = time.time() + expires_in * 86400 if expires_in else None
    token, text, secret_hash = tokens.new_token(name, scope, expires_at)
    store = _store(obj)
    try:
        store.add_token(token, secret_hash)
    finally:
        store.close()
    click.echo(text)
    click.echo(f"Token {token.token_id} ({scope}) made; it is not shown again.", err=True)


@tokens_group.command("list")
@output.format_options
@click.pass_obj
def list_tokens(obj, fmt) -> None:
    """Every token: id, name, scope, state, dates (never the secret)."""
    store = _store(obj)
    try:
        found = store.list_tokens()
    finally:
        store.close()
    rows = ({"id": t.token_id, "name": t.name, "scope": t.scope, "state": t.state(),
             "created": output.timestamp(t.created_at), "expires": output.timestamp(t.expires_at),
             "revoked": output.timestamp(t.revoked_at)} for t in found)
    output.emit(rows, ["id", "name", "scope", "state", "created", "expires", "revoked"], fmt,
                empty="No tokens.")


@tokens_group.command("revoke")
@click.argument("token_id")
@click.pass_obj
def revoke(obj, token_id: str) -> None:
    """Revoke a token by its id (the server refuses it from its next request)."""
    store = _store(obj)
    try:
        token = store.revoke_token(token_id)
    finally:
        store.close()
    click.echo(f"Token {token.token_id} revoked.")


def register(cli: click.Group) -> None:
    cli.add_command(server)
    cli.add_command(tokens_group)
