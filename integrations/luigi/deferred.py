"""A task's run, written in one transaction when the task is quick.

Most Luigi tasks in a big graph take milliseconds; writing each run twice
(created at ``START``, updated at ``SUCCESS``) would double what tracking
costs. A ``DeferredRun`` keeps what the task records in memory and, when the
task succeeds, writes the finished run with its params, metrics, inputs and
outputs in one transaction (``NewRun`` with ``inputs`` / ``outputs``).

It is written at once, and from then on like any run (buffered updates,
heartbeats, reaping if its process dies), as soon as any of these happens:

- the task has been running for ``WRITE_AFTER_SECONDS`` (a watchdog thread
  per process), so a long task shows as *running* while it runs;
- something asks for its id (a nested run, user code);
- it has buffered enough to flush (``log_metric`` in a long loop);
- it ends any other way than a clean success (failures keep their traceback).

If the single write fails, the run is written again without its lineage
edges, so the run itself still lands when only lineage tables are broken.
"""
from __future__ import annotations

import dataclasses
import os
import threading
import time
from typing import Any

from modeldb_core import validation
from modeldb_core.client import TrackingClient
from modeldb_core.model import NewRun, RunStatus, RunUpdate
from modeldb_core.run import ActiveRun
from modeldb_core.safety import report, safe_call

WRITE_AFTER_SECONDS = 1.0
_WATCH_EVERY = 0.25


class DeferredRun(ActiveRun):
    def __init__(self, client: TrackingClient, spec: NewRun):
        self._run_id: int | None = None
        super().__init__(client, None, spec.name, spec.project, spec.pipeline_run_id, spec.params)
        self._spec = spec
        self._gate = threading.Lock()
        self._written = False
        self.opened = time.monotonic()

    # ``id`` is read by nesting, user code and flushes: reading it writes the run.
    @property
    def id(self) -> int | None:  # type: ignore[override]
        if not self._written and self.status == RunStatus.RUNNING.value:
            self.write_now()
        return self._run_id

    @id.setter
    def id(self, value: int | None) -> None:
        self._run_id = value

    def __repr__(self) -> str:
        return f"<DeferredRun id={self._run_id} name={self.name!r} status={self.status}>"

    @property
    def written(self) -> bool:
        return self._written

    def write_now(self) -> None:
        """Create the run in the store (status running); later updates go as usual."""
        with self._gate:
            if self._written or self.status != RunStatus.RUNNING.value:
                return
            self._written = True
            run_id = safe_call("start a run", self.client.store.create_run, self._spec)
            if run_id is None:
                return
            self._run_id = run_id
            self.client.register(self)

    def end(self, status: str | RunStatus = RunStatus.SUCCEEDED, error: BaseException | None = None,
            message: str | None = None) -> None:
        status = validation.status(status)
        with self._gate:
            quick = (not self._written and self.status == RunStatus.RUNNING.value
                     and error is None and message is None and not self._pending.notes
                     and not self._pending.heartbeat_at)
            if quick:
                self._written = True
                self.status = status
                with self._lock:
                    pending, self._pending = self._pending, RunUpdate()
                spec = self._spec
                finished = dataclasses.replace(
                    spec, status=status, ended_at=time.time(),
                    params={**spec.params, **pending.params}, tags={**spec.tags, **pending.tags},
                    metrics=[*spec.metrics, *pending.metrics],
                    inputs=[*spec.inputs, *pending.inputs], outputs=[*spec.outputs, *pending.outputs])
        if not quick:
            if not self._written:
                self.write_now()
            super().end(status, error=error, message=message)
            return
        try:
            self._run_id = self.client.store.create_run(finished)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 - tracking never breaks the task
            report(f"record the run of {self.name}", exc)
            if finished.inputs or finished.outputs:
                bare = dataclasses.replace(finished, inputs=[], outputs=[])
                self._run_id = safe_call(f"record the run of {self.name} without its lineage",
                                         self.client.store.create_run, bare)


# -- the watchdog: long tasks are written while they run ------------------------------
_watch: tuple[int, threading.Thread] | None = None
_watch_lock = threading.Lock()


def watch(open_runs: dict[str, Any]) -> None:
    """Start (once per process) the thread writing runs open longer than WRITE_AFTER_SECONDS."""
    global _watch
    pid = os.getpid()
    if _watch is not None and _watch[0] == pid:
        return
    with _watch_lock:
        if _watch is not None and _watch[0] == pid:
            return
        thread = threading.Thread(target=_loop, args=(open_runs,), name="modeldb-luigi-watch", daemon=True)
        thread.start()
        _watch = (pid, thread)


def _loop(open_runs: dict[str, Any]) -> None:
    while True:
        time.sleep(_WATCH_EVERY)
        now = time.monotonic()
        try:
            waiting = [r for r in list(open_runs.values())
                       if isinstance(r, DeferredRun) and not r.written and now - r.opened >= WRITE_AFTER_SECONDS]
        except RuntimeError:  # the dict changed while copied: look again next time
            continue
        for run in waiting:
            safe_call("write a running Luigi task's run", run.write_now)
