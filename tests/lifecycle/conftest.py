"""The lifecycle scenario's parts: Airflow in this process (the Airflow suite's harness, reused),
Prefect in its own environment and process, the ``modeldb`` command in subprocesses.

Airflow 3.3 and Prefect 3.9 cannot share an environment, so ``nox -s lifecycle`` runs these
tests in Airflow's and builds a second one for Prefect, whose interpreter it passes in
``MODELDB_PREFECT_PYTHON``. The Prefect steps talk to one real Prefect server on loopback,
started once per session from that environment with its home in a temp dir.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

# Airflow's temp home, its metadata DB migrated once, DAGs run with dag.test(): as the Airflow suite does.
from tests.airflow.conftest import (  # noqa: F401 - pytest finds hooks and fixtures by these names
    _fresh_listener, airflow_db, pytest_configure, pytest_unconfigure, run_dag)

HERE = Path(__file__).resolve().parent
PREFECT_PYTHON = "MODELDB_PREFECT_PYTHON"


@pytest.fixture(scope="session")
def prefect_python() -> str:
    """The Prefect environment's interpreter: required, the scenario cannot run without it."""
    python = os.environ.get(PREFECT_PYTHON, "")
    if not python or not Path(python).is_file():
        pytest.fail(f"{PREFECT_PYTHON} must name the Python of an environment with Prefect 3.9 and ModelDB "
                    f"installed (got {python!r}); `python3 -m nox -s lifecycle` builds one and sets it",
                    pytrace=False)
    return python


class PrefectServer:
    """A real Prefect server (``prefect server start``) on a free loopback port, from the Prefect
    environment, with its home in a temp dir. It starts in the background (10 s to minutes on a
    loaded machine): the Airflow and Luigi steps run meanwhile, and ``url()`` waits for it when first needed."""

    def __init__(self, python: str, home: Path):
        self.home = home
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.api = f"http://127.0.0.1:{port}/api"
        self.env = {**os.environ, "HOME": str(home), "PREFECT_HOME": str(home / ".prefect"),
                    "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_LOGGING_LEVEL": "WARNING"}
        self._log = open(home / "server.log", "wb")  # noqa: SIM115 - kept open while the server runs
        self._process = subprocess.Popen([str(Path(python).with_name("prefect")), "server", "start", "--host",
                                          "127.0.0.1", "--port", str(port)], env=self.env, stdout=self._log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        self._started = time.monotonic()
        self._ready = False

    def url(self) -> str:
        deadline = self._started + 300  # on a machine shared by several test suites it can take minutes
        while not self._ready:
            try:
                with urllib.request.urlopen(f"{self.api}/health", timeout=10) as answer:
                    self._ready = answer.status == 200
            except OSError:
                pass
            if self._process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the Prefect server did not start:\n" + (self.home / "server.log").read_text()[-3000:])
            time.sleep(0.25)
        return self.api

    def stop(self) -> None:
        os.killpg(self._process.pid, signal.SIGTERM)  # the server and the workers it started
        try:
            self._process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(5)
        self._log.close()


@pytest.fixture(scope="session")
def prefect_server(prefect_python, tmp_path_factory):
    server = PrefectServer(prefect_python, tmp_path_factory.mktemp("prefect-home"))
    yield server
    server.stop()


class Scenario:
    """What every step of the scenario shares: one store, one artifact folder, one data folder."""

    def __init__(self, uri: str, root: Path, prefect_python: str, prefect_server: PrefectServer):
        self.uri = uri
        self.root = root
        self.artifacts = root / "artifacts"
        self.prefect_python = prefect_python
        self.prefect_server = prefect_server

    def _env(self, identity: str) -> dict[str, str]:
        return {**os.environ, "MODELDB_ARTIFACTS": str(self.artifacts), "MODELDB_IDENTITY": identity,
                "MODELDB_URI": self.uri}

    def cli(self, *args: str, identity: str = "release-manager", code: int = 0) -> str:
        """``modeldb --uri URI ARGS...`` as a user runs it; its output (stdout and stderr)."""
        return self._finish(self._start(args, identity), args, code)

    def cli_all(self, *commands: tuple[str, ...], identity: str = "release-manager") -> list[str]:
        """Several read-only commands at once (each a process, as several users would); their outputs."""
        started = [self._start(args, identity) for args in commands]
        return [self._finish(process, args, 0) for process, args in zip(started, commands)]

    def _start(self, args: tuple[str, ...], identity: str) -> subprocess.Popen:
        modeldb = Path(sys.executable).with_name("modeldb")
        return subprocess.Popen([str(modeldb), "--uri", self.uri, *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=self._env(identity))

    @staticmethod
    def _finish(process: subprocess.Popen, args: tuple[str, ...], code: int) -> str:
        try:
            out, err = process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
        assert process.returncode == code, f"modeldb {' '.join(args)} -> {process.returncode}\n{out}\n{err}"
        return out + err

    def cli_json(self, *args: str, identity: str = "release-manager") -> object:
        return json.loads(self.cli(*args, "--json", identity=identity))

    def prefect(self, step: str, identity: str = "prefect-worker", **arguments) -> object:
        """Run a Prefect step (prefect_steps.py) in the Prefect environment; the flow's result."""
        env = self._env(identity)
        url = self.prefect_server.url()
        home = Path(tempfile.mkdtemp(dir=self.root, prefix="prefect-worker-"))
        env.update({"HOME": str(home), "PREFECT_HOME": str(home / ".prefect"), "PREFECT_API_URL": url,
                    "PREFECT_LOGGING_LEVEL": "WARNING", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"})
        done = subprocess.run([self.prefect_python, str(HERE / "prefect_steps.py"), step, json.dumps(arguments)],
                              capture_output=True, text=True, env=env, timeout=600, cwd=str(HERE))
        assert done.returncode == 0, f"prefect step {step} failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
        return json.loads(done.stdout.strip().splitlines()[-1])
