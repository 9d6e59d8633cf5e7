"""Fixtures shared by every suite: real SQLite files and a real PostgreSQL server.

``store_uri`` is parametrized over ``sqlite`` and ``postgres``: every test that
uses it (directly or through ``store`` / ``tracking``) runs on both. The
PostgreSQL server is started by the tests themselves (initdb + pg_ctl in a
temp dir, once per session); if its binaries are missing the postgres tests
FAIL with the command that installs them: they never skip.
"""
from __future__ import annotations

import contextlib
import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

INSTALL_HINT = ("PostgreSQL server binaries (initdb, pg_ctl) were not found. Install them with "
                "`apt-get install -y postgresql` (Debian/Ubuntu) or set MODELDB_PG_BIN to their folder.")


def _pg_bin() -> Path | None:
    candidates = [os.environ.get("MODELDB_PG_BIN", "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    found = shutil.which("pg_ctl")
    if found:
        candidates.append(str(Path(found).parent))
    for folder in candidates:
        if folder and (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """A throwaway PostgreSQL cluster in a temp dir, listening on 127.0.0.1."""

    def __init__(self, bin_dir: Path):
        self.bin = bin_dir
        # In memory when the machine has a tmpfs: a session creates hundreds of databases (each a
        # copy of template1, ~7.5 MB), and creating and removing them on disk took minutes of CI.
        shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
        self.dir = Path(tempfile.mkdtemp(prefix="modeldb-pg-", dir=shm))
        self.data = self.dir / "data"
        self.port = _free_port()
        self.as_root = os.geteuid() == 0
        self._counter = itertools.count()

    def _run(self, *args: str) -> None:
        cmd = list(args)
        if self.as_root:  # initdb refuses to run as root
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}")

    def start(self) -> "PostgresServer":
        if self.as_root:
            shutil.chown(self.dir, "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "--no-sync", "-E", "UTF8")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-l", str(self.dir / "log"),
                  "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
                  "start")
        return self

    def stop(self) -> None:
        try:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url().replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(sql)

    def new_database(self) -> str:
        """A fresh, empty database; returns its URL."""
        name = f"modeldb_test_{next(self._counter)}_{int(time.time() * 1000) % 100000}"
        # A file copy of the small template: PostgreSQL 15's default (WAL_LOG) is ~3x slower here.
        self.execute(f'CREATE DATABASE "{name}" STRATEGY FILE_COPY')
        return self.url(name)


@pytest.fixture(scope="session")
def postgres_server():
    bin_dir = _pg_bin()
    if bin_dir is None:
        pytest.fail(INSTALL_HINT, pytrace=False)
    server = PostgresServer(bin_dir).start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def store_uri(request, tmp_path) -> str:
    """The URI of a fresh, empty store: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'modeldb.db'}"
    return request.getfixturevalue("postgres_server").new_database()


@pytest.fixture
def sqlite_uri(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'modeldb.db'}"


@pytest.fixture
def store(store_uri):
    from modeldb_core.store import open_store

    opened = open_store(store_uri)
    yield opened
    opened.close()


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """No test reads or writes the real ~/.modeldb or config."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for var in ("MODELDB_URI", "MODELDB_DISABLED", "MODELDB_CONFIG", "MODELDB_PROJECT",
                "MODELDB_ARTIFACTS"):
        monkeypatch.delenv(var, raising=False)
    yield


@pytest.fixture
def tracking(store_uri):
    """Tracking pointed at a fresh store (SQLite and PostgreSQL); yields the client."""
    import modeldb_core

    client = modeldb_core.configure(uri=store_uri)
    yield client
    client.close()


# -- the web app in a real server, and a real headless Chromium ------------------------------
@contextlib.contextmanager
def serving(uri: str) -> Iterator[str]:
    """The web app over the store at ``uri``, served by uvicorn on a free local port (in a
    thread of this process); its base URL while the block runs."""
    import uvicorn

    from modeldb_core.web import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(uri), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the UI server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextlib.contextmanager
def chromium_page() -> Iterator[tuple[Any, list[str]]]:
    """A page of a headless Chromium (Debian's) and the console and page errors it met."""
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                             args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            yield page, problems
        finally:
            browser.close()
