"""The per-process tracking client: settings, the store, the tracking runtime.

One client per process. It opens nothing when created (so ``import
modeldb_core`` and decorating functions cost nothing): the tracking runtime
(``runtime.py``) journals what is recorded and its writer opens the store.
Pipelines and pipeline runs are named on the client's side (their keys are
made here) and recorded as events like everything else. Reading through
``client.store`` first drains this process's events, so a script sees what it
recorded. A forked child gets a client of its own with the parent's settings.
"""
from __future__ import annotations

import contextlib
import getpass
import hashlib
import json
import os
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import config, events, validation
from .reading import StoreReader
from .safety import safe_call

if TYPE_CHECKING:
    from .runtime import Runtime
    from .store import MetadataStore

# A running run whose heartbeat is older than this is taken for dead (other hosts).
STALE_AFTER_SECONDS = 10 * 60.0
# How long one write of the runtime's writer may wait for a lock or an answer.
WRITER_TIMEOUT = 5.0


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


@dataclass(frozen=True)
class PipelineRef:
    """A workflow definition as the client names it (the store gives it an id when it arrives)."""

    project: str
    name: str
    orchestrator: str
    structure: dict[str, Any] = field(default_factory=dict)
    structure_hash: str = ""


class TrackingClient:
    def __init__(self, settings: config.Settings | None = None, runtime: "Runtime | None" = None):
        self.settings = settings or config.resolve()
        self.pid = os.getpid()
        self.host = socket.gethostname()
        self.user = _user()
        self._runtime = runtime
        # Reads wait for this process's events (the runtime's drain) and handed-off journals.
        self._reader = StoreReader(self.settings, before_read=self._drain)
        self._lock = threading.RLock()
        self._script_runs: dict[str, str] = {}
        self.seed: int | None = None
        # Set by `modeldb reproduce`'s runner: the run this process re-executes (recipe.Reproducing).
        self.reproducing: Any = None

    @property
    def disabled(self) -> bool:
        return self.settings.disabled

    @property
    def runtime(self) -> "Runtime":
        """This process's journal and writer for this client's store (made on first use)."""
        if self._runtime is None:
            with self._lock:
                if self._runtime is None:
                    from .runtime import Runtime

                    self._runtime = Runtime(self.settings, self._writer_store)
        return self._runtime

    def together(self) -> Any:
        """``with client.together():`` what this thread records inside is journaled as one
        record (``Runtime.together``): an orchestrator hook's start or end. Nothing when
        tracking is off."""
        return contextlib.nullcontext() if self.disabled else self.runtime.together()

    def _writer_store(self) -> "MetadataStore":
        """The writer's own store: a locked or hanging store answers it within seconds (it
        backs off and retries), where readers keep the drivers' patience."""
        from .store import open_store

        return open_store(self.settings.uri, timeout=self.settings.store_timeout or WRITER_TIMEOUT)

    def open_store(self) -> "MetadataStore":
        """The store itself, without waiting for this process's events (the writer's view)."""
        return self._reader.open()

    def _drain(self) -> None:
        if self._runtime is not None:
            self._runtime.drain()

    @property
    def store_is_server(self) -> bool:
        return self.settings.uri.startswith(("http://", "https://"))

    def blob_keeper(self) -> "MetadataStore | None":
        """The store that keeps blobs for other machines when it is a ``modeldb server``
        (opening one makes no request); None for a database, whose clients share an artifact
        folder."""
        return self.open_store() if self.store_is_server else None

    def keep_blob(self, folder: Any, content_hash: str) -> None:
        """Have a blob of this machine's artifact ``folder`` kept by the server, when the store
        is one: journaled, and pushed by the writer before the events that name it, so neither
        a fit nor a tracked task waits for the upload, and a process that dies first leaves it
        to replay."""
        if self.store_is_server:
            from . import events

            self.runtime.emit(events.BLOB_KEPT, content_hash, {"folder": str(folder)})

    @property
    def store(self) -> "MetadataStore":
        """The store, once what this process recorded is in it (waiting at most ``exit_timeout``)
        and what processes that just exited handed off (``modeldb_core.reading``)."""
        return self._reader.get()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until the store has what this process recorded; False if ``timeout`` ran out."""
        if self._runtime is None:
            return True
        return self._runtime.drain(timeout)

    # -- pipelines ----------------------------------------------------------
    def pipeline(self, project: str, name: str, orchestrator: str,
                 structure: dict[str, Any] | None = None) -> PipelineRef:
        structure = structure or {}
        # The store's canonical JSON (store/rows.py), so every process hashes a structure alike.
        body = json.dumps(structure, sort_keys=True, ensure_ascii=False, allow_nan=True, separators=(",", ":"))
        digest = "sha256:" + hashlib.sha256(body.encode()).hexdigest()
        return PipelineRef(project, name, orchestrator, structure, digest)

    def pipeline_run(self, pipeline: PipelineRef, external_id: str, started_at: float | None = None,
                     script: bool = False) -> str:
        """The key of one execution of ``pipeline`` (recorded once per process); pass it to
        ``start_run(pipeline_run_id=...)`` and ``end_pipeline_run``."""
        key = events.pipeline_run_key(pipeline.project, pipeline.name, pipeline.orchestrator,
                                      pipeline.structure_hash, external_id)
        if not self.disabled:
            self.runtime.pipeline_started(key, {
                "project": pipeline.project, "name": pipeline.name, "orchestrator": pipeline.orchestrator,
                "structure": pipeline.structure, "structure_hash": pipeline.structure_hash,
                "external_id": external_id, "started_at": started_at or time.time(), "script": script},
                script=script)
        return key

    def end_pipeline_run(self, pipeline_run_id: str, status: str, if_running: bool = False) -> None:
        """End a pipeline run (the last end recorded wins; ``if_running``: unless it has ended)."""
        status = validation.status(status)
        if not self.disabled:
            data: dict[str, Any] = {"status": status, "ended_at": time.time()}
            if if_running:
                data["if_running"] = True
            self.runtime.emit(events.PIPELINE_ENDED, pipeline_run_id, data)

    def script_pipeline_run(self, project: str) -> str:
        """The pipeline run shared by the plain tracked functions of this process."""
        found = self._script_runs.get(project)
        if found is None:
            script = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
            name = script if script and script != "-c" else "interactive"
            external = f"{self.host}:{self.pid}:{_process_start()}"
            found = self.pipeline_run(self.pipeline(project, name, "python"), external, script=True)
            self._script_runs[project] = found
        return found

    def reap(self) -> list[int]:
        """Mark runs whose process died as killed."""
        return self.store.reap(time.time(), STALE_AFTER_SECONDS, self.host, pid_alive)

    def forked(self) -> "TrackingClient":
        """The client of a forked child: this one's settings, store and runtime (which
        dropped the parent's journal, queue and writer at the fork), nothing open.

        Settings given to ``configure()`` in the parent must hold in its workers
        (Luigi and Airflow fork them); the store's engine was already disposed in
        the child (store/engine.py), so no connection is shared across processes.
        """
        child = TrackingClient(self.settings, runtime=self._runtime)
        child._reader = self._reader.sharing(before_read=child._drain)
        child.seed = self.seed
        return child

    def release(self) -> None:
        """Close the connections this process holds (the stores stay usable: they reconnect)."""
        self._reader.release()
        store = self._runtime._store if self._runtime is not None else None
        if store is not None:
            safe_call("release the store's connections", store.close)

    def close(self, killed_by: str | None = None, exiting: bool = False) -> None:
        """End what this process left open (``killed``), drain for at most ``exit_timeout``,
        then release the store. What the store did not take stays in the journal."""
        if self._runtime is not None:
            why = (f"the process received {killed_by} before the run was ended" if killed_by
                   else "the process exited before the run was ended")
            # A signal asks to stop now: at most exit_timeout, however the writer is doing.
            timeout = self.settings.exit_timeout if killed_by else None
            safe_call("write what was recorded", self._runtime.close, timeout, why=why, exiting=exiting)
        self._reader.close()


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
              artifacts: str | None = None, store_timeout: float | None = None,
              journal: str | None = None, exit_timeout: float | None = None) -> TrackingClient:
    """Point tracking somewhere else for this process (argument > env > file > default)."""
    global _client
    with _client_lock:
        if _client is not None and _client.pid == os.getpid():
            _client.close()
        _client = TrackingClient(config.resolve(uri=uri, disabled=disabled, project=project,
                                                artifacts=artifacts, store_timeout=store_timeout,
                                                journal=journal, exit_timeout=exit_timeout))
        return _client


def close_at_exit(killed_by: str | None = None) -> None:
    """The process exit (the tracking runtime's one ``atexit`` hook, or its SIGTERM handler)."""
    if _client is not None and _client.pid == os.getpid():
        _client.close(killed_by, exiting=True)


def flush(timeout: float | None = None) -> bool:
    """Wait until the store has what this process recorded (at most ``timeout`` s, default
    ``exit_timeout``); True when it has. Reads through ModelDB do this by themselves."""
    client = _client
    if client is None or client.pid != os.getpid():
        return True
    return client.flush(timeout)
