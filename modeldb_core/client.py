"""The per-process tracking client: settings, the store, and what is cached.

One client per process. It opens the store lazily (so ``import modeldb_core``
and decorating functions cost nothing), caches the environment, code versions
and pipeline runs, keeps a heartbeat for the runs this process has open, and
starts over in a forked child. Every store write it makes from inside user
code goes through ``safety.safe_call``.
"""
from __future__ import annotations

import atexit
import getpass
import os
import socket
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, Callable

from . import capture, config, validation
from .model import Pipeline, PipelineRun, RunStatus
from .safety import safe_call

if TYPE_CHECKING:
    from .store import MetadataStore
    from .run import ActiveRun

HEARTBEAT_SECONDS = 30.0
# A running run whose heartbeat is older than this is taken for dead (other hosts).
STALE_AFTER_SECONDS = 10 * 60.0


def _user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in some containers
        return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child (killed, not yet waited for) still answers kill(0).
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return True


class TrackingClient:
    def __init__(self, settings: config.Settings | None = None):
        self.settings = settings or config.resolve()
        self.pid = os.getpid()
        self.host = socket.gethostname()
        self.user = _user()
        self._store: MetadataStore | None = None
        self._lock = threading.RLock()
        self._code_ids: dict[Any, int | None] = {}
        self._environment_id: int | None = None
        self._script_runs: dict[str, PipelineRun] = {}
        self._open: dict[int, ActiveRun] = {}
        self._heartbeat: threading.Thread | None = None
        self._stop = threading.Event()
        self.seed: int | None = None

    @property
    def disabled(self) -> bool:
        return self.settings.disabled

    @property
    def store(self) -> "MetadataStore":
        with self._lock:
            if self._store is None:
                from .store import open_store

                self._store = open_store(self.settings.uri, timeout=self.settings.store_timeout)
            return self._store

    # -- cached capture -----------------------------------------------------
    def environment_id(self) -> int | None:
        if self._environment_id is None:
            self._environment_id = self.store.ensure_environment(capture.environment())
        return self._environment_id

    def code_version_id(self, fn: Callable[..., Any] | None = None,
                        source_file: str | None = None) -> int | None:
        key = fn if fn is not None else source_file
        if key not in self._code_ids:
            self._code_ids[key] = self.store.ensure_code_version(
                capture.code_version(fn, source_file=source_file))
        return self._code_ids[key]

    # -- pipelines ----------------------------------------------------------
    def pipeline(self, project: str, name: str, orchestrator: str,
                 structure: dict[str, Any] | None = None) -> Pipeline:
        return self.store.ensure_pipeline(project, name, orchestrator, structure or {})

    def pipeline_run(self, pipeline: Pipeline, external_id: str,
                     started_at: float | None = None) -> PipelineRun:
        return self.store.ensure_pipeline_run(pipeline.id, external_id, started_at or time.time())

    def end_pipeline_run(self, pipeline_run_id: int, status: str) -> None:
        self.store.end_pipeline_run(pipeline_run_id, validation.status(status), time.time())

    def script_pipeline_run(self, project: str) -> PipelineRun:
        """The pipeline run shared by the plain tracked functions of this process."""
        found = self._script_runs.get(project)
        if found is None:
            script = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
            name = script if script and script != "-c" else "interactive"
            pipeline = self.pipeline(project, name, "python")
            external = f"{self.host}:{self.pid}:{_process_start()}"
            found = self.pipeline_run(pipeline, external)
            self._script_runs[project] = found
        return found

    # -- runs -----------------------------------------------------------
    def register(self, run: "ActiveRun") -> None:
        with self._lock:
            self._open[run.id] = run
            if self._heartbeat is None:
                self._heartbeat = threading.Thread(target=self._beat, name="modeldb-heartbeat",
                                                   daemon=True)
                self._heartbeat.start()

    def unregister(self, run: "ActiveRun") -> None:
        with self._lock:
            self._open.pop(run.id, None)

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            with self._lock:
                open_runs = list(self._open.values())
            for run in open_runs:
                safe_call("send a heartbeat", run.flush, heartbeat=True)

    def reap(self) -> list[int]:
        """Mark runs whose process died as killed."""
        return self.store.reap(time.time(), STALE_AFTER_SECONDS, self.host, pid_alive)

    def forked(self) -> "TrackingClient":
        """The client of a forked child: this one's settings, store and cached ids, nothing open.

        Settings given to ``configure()`` in the parent must hold in its workers
        (Luigi and Airflow fork them); the store's engine was already disposed in
        the child (store/engine.py), so no connection is shared across processes.
        """
        child = TrackingClient(self.settings)
        child._store = self._store
        child._code_ids = dict(self._code_ids)
        child._environment_id = self._environment_id
        child.seed = self.seed
        return child

    def close(self) -> None:
        """End what this process left open (atexit), then release the store."""
        self._stop.set()
        import sys

        deferred = sys.modules.get("modeldb_core.deferred")
        if deferred is not None:  # runs waiting for a batch are written before the store closes
            safe_call("write the runs left waiting", deferred.flush)
        with self._lock:
            open_runs = list(self._open.values())
        for run in open_runs:
            safe_call("end a run left open", run.end, RunStatus.KILLED,
                      message="the process exited before the run was ended")
        if self._store is not None:
            for prun in self._script_runs.values():
                safe_call("end the script's pipeline run", self.store.end_pipeline_run,
                          prun.id, RunStatus.SUCCEEDED.value, time.time())
            safe_call("close the store", self._store.close)
            self._store = None


def _process_start() -> str:
    try:
        with open(f"/proc/{os.getpid()}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return str(int(time.time()))


_client: TrackingClient | None = None
_client_lock = threading.Lock()


def get_client() -> TrackingClient:
    """This process's client (after a fork, a new one with the parent's settings)."""
    global _client
    client = _client
    if client is not None and client.pid == os.getpid():
        return client
    with _client_lock:
        if _client is None:
            _client = TrackingClient()
        elif _client.pid != os.getpid():
            _client = _client.forked()
        return _client


def configure(uri: str | None = None, disabled: bool | None = None, project: str | None = None,
              artifacts: str | None = None, store_timeout: float | None = None) -> TrackingClient:
    """Point tracking somewhere else for this process (argument > env > file > default)."""
    global _client
    with _client_lock:
        if _client is not None and _client.pid == os.getpid():
            _client.close()
        _client = TrackingClient(config.resolve(uri=uri, disabled=disabled, project=project,
                                                artifacts=artifacts, store_timeout=store_timeout))
        return _client


def _at_exit() -> None:
    if _client is not None and _client.pid == os.getpid():
        _client.close()


atexit.register(_at_exit)
