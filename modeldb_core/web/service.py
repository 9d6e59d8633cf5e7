"""The web app as a service: what stands between a network and the pages (docs/security.md).

Always (``create_app``, standalone and inside Airflow):
- ``ReadDeadline``: every request's reads share one deadline (``query_timeout``)
  and are cancelled when the client goes away;
- ``SecurityHeaders``: a Content-Security-Policy without inline script,
  ``nosniff``, ``frame-ancestors``, no referrer leaking filters to other sites.

Standalone (``modeldb ui``), added by ``protect``:
- a Host allow-list (DNS rebinding: a page on another site resolving its own
  name to 127.0.0.1 must not read the API);
- optional token authentication (Bearer, or basic auth whose password is the
  token), compared in constant time.
"""
from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import logging
import socket
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator

log = logging.getLogger("modeldb.web")

# GET requests carry no body worth reading; anything larger is refused before the app runs.
MAX_BODY_BYTES = 64 * 1024
DEFAULT_QUERY_TIMEOUT = 5.0
# A search with more conditions or keyed sort keys than this is expensive: one runs at a time.
EXPENSIVE_CONDITIONS = 16
EXPENSIVE_SORT_KEYS = 2
_expensive = threading.BoundedSemaphore(1)

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'self'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


async def _plain(send: Callable, status: int, text: str, headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    body = text.encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), *HEADERS, *headers]})
    await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message):
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message = {**message, "headers": [*message.get("headers", []),
                                                  *(h for h in HEADERS if h[0] not in present)]}
            await send(message)

        await self.app(scope, receive, with_headers)


class ReadDeadline:
    """One read scope per request: a deadline, and cancellation when the client disconnects.

    The request body is read first (bounded), so that afterwards the only
    message the server can send is ``http.disconnect``; a watcher waits for it
    (or for the deadline) while the endpoint runs in its worker thread, and
    cancels the scope: SQLite's progress handler and PostgreSQL's cancel
    request stop the statement running in that thread.
    """

    def __init__(self, app, seconds: float | None):
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        import anyio

        from modeldb_core.store import deadline

        body: list[dict] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            size += len(message.get("body", b""))
            if size > MAX_BODY_BYTES:
                await _plain(send, 413, f"request body over {MAX_BODY_BYTES} bytes")
                return
            body.append(message)
            if not message.get("more_body"):
                break
        gone = anyio.Event()
        replay = iter(body)

        async def app_receive():
            message = next(replay, None)
            if message is not None:
                return message
            await gone.wait()
            return {"type": "http.disconnect"}

        answered = False

        async def app_send(message):
            nonlocal answered
            if message["type"] == "http.response.body" and not message.get("more_body"):
                answered = True
            await send(message)

        with deadline.scope(self.seconds) as reads:
            async def watch_client():
                while (await receive())["type"] != "http.disconnect":
                    pass
                gone.set()
                if answered:
                    return  # servers report a disconnect once the answer is complete, too
                if not reads.cancelled:
                    log.warning("client went away: cancelled the reads of %s %s",
                                scope.get("method"), scope.get("path"))
                reads.cancel("the client went away")

            async def watch_clock():
                await anyio.sleep(self.seconds)
                reads.expire()

            async with anyio.create_task_group() as watchers:
                watchers.start_soon(watch_client)
                if self.seconds:
                    watchers.start_soon(watch_clock)
                try:
                    await self.app(scope, app_receive, app_send)
                finally:
                    watchers.cancel_scope.cancel()


def is_expensive(query) -> bool:
    from modeldb_core.query.language import conditions

    keyed_sorts = sum(1 for key in query.order if key.field.kind != "attr")
    return conditions(query.filter) > EXPENSIVE_CONDITIONS or keyed_sorts > EXPENSIVE_SORT_KEYS


@contextmanager
def search_slot(query) -> Iterator[None]:
    """Expensive searches take turns, so that they cannot take every core from everyone else.

    On two cores, four 250-condition searches at once made ``/`` take 1.1 s
    instead of 0.35 s. Waiting for the turn counts against the request's deadline.
    """
    if not is_expensive(query):
        yield
        return
    from modeldb_core.errors import QueryTimeoutError
    from modeldb_core.store import deadline

    reads = deadline.current()
    wait = None
    if reads is not None and reads.deadline is not None:
        wait = max(0.0, reads.deadline - time.monotonic())
    if not _expensive.acquire(timeout=wait):
        raise QueryTimeoutError(reads.seconds if reads is not None else None)
    try:
        yield
    finally:
        _expensive.release()


def _token_of(headers: dict[bytes, bytes]) -> bytes | None:
    value = headers.get(b"authorization", b"")
    scheme, _, credentials = value.partition(b" ")
    scheme = scheme.lower()
    if scheme == b"bearer":
        return credentials.strip()
    if scheme == b"basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True)
        except (binascii.Error, ValueError):
            return None
        return decoded.partition(b":")[2]  # any user name: the password is the token
    return None


class TokenAuth:
    """Every request needs the configured token; a browser gets the basic-auth prompt."""

    def __init__(self, app, token: str):
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _token_of(dict(scope.get("headers", [])))
        # compare_digest: the time taken does not tell how much of a guess was right.
        if given is None or not hmac.compare_digest(given, self.token):
            await _plain(send, 401, "authentication required: the ModelDB token (ui_token)",
                         [(b"www-authenticate", b'Basic realm="ModelDB", charset="UTF-8"')])
            return
        await self.app(scope, receive, send)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def allowed_hosts(bind: str, configured: Iterable[str] = ()) -> list[str]:
    """Host headers to answer: the configured ones, else the bind address and localhost."""
    hosts = [h for h in configured if h]
    if hosts:
        return hosts
    found = {"localhost", "127.0.0.1", "::1"}
    if bind in ("0.0.0.0", "::", ""):
        # Every interface: the machine's own names are what a colleague's browser sends.
        found |= {socket.gethostname().lower(), socket.getfqdn().lower()}
    else:
        found.add(bind.lower().strip("[]"))
    return sorted(found)


def protect(app, bind: str, hosts: Iterable[str] = (), token: str | None = None):
    """``app`` behind the Host allow-list and, with a token, authentication."""
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    protected = TokenAuth(app, token) if token else app
    return TrustedHostMiddleware(protected, allowed_hosts=allowed_hosts(bind, hosts), www_redirect=False)


__all__ = ["ReadDeadline", "SecurityHeaders", "TokenAuth", "allowed_hosts", "is_loopback", "protect"]
