"""A real ``modeldb server`` process (uvicorn) on a real SQLite file or PostgreSQL database."""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from modeldb_core.server.cluster import Replica, free_port


class Server(Replica):
    """``modeldb --uri <store> server`` in a subprocess (the replica of the cluster: one way
    to start one); ``url`` is where it answers."""

    def __init__(self, store_uri: str, log: Path, port: int | None = None, no_auth: bool = False,
                 args: tuple[str, ...] = ()):
        super().__init__(store_uri, port or free_port(), log, (["--no-auth"] if no_auth else []) + list(args))


def request(method: str, url: str, body=None, token: str | None = None) -> tuple[int, dict]:
    """(status, JSON answer) of one request; ``body`` is JSON-encoded unless bytes."""
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def make_token(store_uri: str, scope: str = "write", expires_at: float | None = None,
               name: str | None = None) -> str:
    from modeldb_core import tokens
    from modeldb_core.store import open_store

    token, text, secret_hash = tokens.new_token(name or f"test-{scope}", scope, expires_at)
    store = open_store(store_uri)
    try:
        store.add_token(token, secret_hash)
    finally:
        store.close()
    return text


@pytest.fixture
def start_server(tmp_path):
    started: list[Server] = []

    def start(store_uri: str, **kwargs) -> Server:
        server = Server(store_uri, tmp_path / f"server-{len(started)}.log", **kwargs).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server_env(tmp_path):
    """The environment of a client process: its own HOME (journal), ModelDB's code on the path."""
    env = dict(os.environ)
    env["HOME"] = str(tmp_path / "client-home")
    return env


# Helpers the tests take as fixtures (test modules import no conftest under importlib mode).
@pytest.fixture(name="http")
def _http():
    return request


@pytest.fixture(name="new_token")
def _new_token():
    return make_token


@pytest.fixture(name="port")
def _port():
    return free_port()
