"""A run written in one transaction when it is quick (``start_run(defer=True)``).

Most tasks in a big pipeline take milliseconds; writing each run twice
(created when it starts, updated when it ends) would double what tracking
costs. Orchestrator integrations (Luigi, Airflow) start their task runs this
way. A ``DeferredRun`` keeps what the task records in memory and, when the
task ends, writes the finished run with its params, metrics, inputs and
outputs in one transaction (``NewRun`` with ``inputs`` / ``outputs``).

A run that fails is written the same way, whole, with its error and
traceback. It is written at once, and from then on like any run (buffered
updates, heartbeats, reaping if its process dies), as soon as any of these
happens:

- it has been running for ``WRITE_AFTER_SECONDS`` (a watchdog thread per
  process), so a long task shows as *running* while it runs, and is reaped
  like any run if its process dies;
- something asks for its id (a nested run, user code);
- it has buffered enough to flush (``log_metric`` in a long loop).

If the single write fails, the run is written again without its lineage
edges, so the run itself still lands when only lineage tables are broken.

``batch=True`` (Luigi, Prefect: hundreds of millisecond tasks in one process)
goes one step further: a quick run that ended waits, in memory, up to
``_WATCH_EVERY`` for other runs to share its transaction. The watchdog thread
writes what waits; ``flush()`` writes it at once (orchestrators call it when a
build ends; reading a queued run's ``id`` does too; so does closing the client
and the process exit). A store failure costs a batch nothing: its runs are then
written one by one, as above.
"""
from __future__ import annotations

import atexit
import dataclasses
import os
import threading
import time
import weakref

from . import validation
from .client import TrackingClient
from .errors import StoreUnavailableError
from .model import NewRun, RunStatus, RunUpdate
from .run import ActiveRun, mark_end
from .safety import report, safe_call

WRITE_AFTER_SECONDS = 1.0
_WATCH_EVERY = 0.25
# Finished runs waiting for a batch beyond this many are written by the thread ending
# the next one (a slow store slows the tasks down; it never drops runs).
MAX_QUEUED = 2_000
# At most this many runs share one transaction.
MAX_BATCH = 500


class DeferredRun(ActiveRun):
    def __init__(self, client: TrackingClient, spec: NewRun, batch: bool = False):
        self._run_id: int | None = None
        self._batch = batch
        self._queued = False
        super().__init__(client, None, spec.name, spec.project, spec.pipeline_run_id, spec.params)
        self._spec = spec
        self._gate = threading.Lock()
        self._written = False
        self.opened = time.monotonic()
        self._pid = os.getpid()  # a forked child must not write its parent's runs
        _unwritten.add(self)
        _watch()

    # ``id`` is read by nesting, user code and flushes: reading it writes the run.
    @property
    def id(self) -> int | None:  # type: ignore[override]
        if self._queued:
            flush()
        elif not self._written and self.status == RunStatus.RUNNING.value:
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
            _unwritten.discard(self)
            run_id = safe_call("start a run", self.client.store.create_run, self._spec)
            if run_id is None:
                return
            self._run_id = run_id
            self.client.register(self)

    def discard(self) -> bool:
        """Drop a run that turned out not to be one (True), unless it is in the store already (False)."""
        with self._gate:
            if self._written:
                return False
            self._written = True
            _unwritten.discard(self)
            self.status = RunStatus.SKIPPED.value
            return True

    def end(self, status: str | RunStatus = RunStatus.SUCCEEDED, error: BaseException | None = None,
            message: str | None = None) -> None:
        status = validation.status(status)
        with self._gate:
            quick = not self._written and self.status == RunStatus.RUNNING.value
            if quick:
                self._written = True
                _unwritten.discard(self)
                self.status = status
                with self._lock:
                    pending, self._pending = self._pending, RunUpdate()
                mark_end(pending, status, error, message)
                spec = self._spec
                finished = dataclasses.replace(
                    spec, status=status, ended_at=pending.ended_at,
                    params={**spec.params, **pending.params}, tags={**spec.tags, **pending.tags},
                    metrics=[*spec.metrics, *pending.metrics], notes=[*spec.notes, *pending.notes],
                    inputs=[*spec.inputs, *pending.inputs], outputs=[*spec.outputs, *pending.outputs],
                    error_type=pending.error_type, error_message=pending.error_message,
                    error_traceback=pending.error_traceback)
        if not quick:
            if not self._written:
                self.write_now()
            super().end(status, error=error, message=message)
            return
        if self._batch and self._pid == os.getpid():
            self._queued = True
            _enqueue(self, finished)
        else:
            self._store(finished)

    def _store(self, finished: NewRun) -> None:
        """Write the finished run alone; if that fails, again without its lineage edges."""
        try:
            self._run_id = self.client.store.create_run(finished)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 - tracking never breaks the task
            report(f"record the run of {self.name}", exc)
            # Broken lineage tables refuse the edges only; an unreachable store refuses all.
            if (finished.inputs or finished.outputs) and not isinstance(exc, StoreUnavailableError):
                bare = dataclasses.replace(finished, inputs=[], outputs=[])
                self._run_id = safe_call(f"record the run of {self.name} without its lineage",
                                         self.client.store.create_run, bare)


# -- finished runs waiting to share a transaction (batch=True) ---------------------------
_queue: list[tuple[DeferredRun, NewRun]] = []
_queue_lock = threading.Lock()
_flush_lock = threading.Lock()  # one batch at a time: flush() returns after the one in flight


def _enqueue(run: DeferredRun, finished: NewRun) -> None:
    with _queue_lock:
        _queue.append((run, finished))
        full = len(_queue) >= MAX_QUEUED
    if full:
        flush()


def flush() -> None:
    """Write the finished runs of this process still waiting for a batch, now."""
    with _flush_lock:
        pid = os.getpid()
        with _queue_lock:
            waiting = [item for item in _queue if item[0]._pid == pid]
            _queue.clear()
        batches: dict[int, list[tuple[DeferredRun, NewRun]]] = {}
        for item in waiting:
            batches.setdefault(id(item[0].client), []).append(item)
        chunks = [items[start:start + MAX_BATCH] for items in batches.values()
                  for start in range(0, len(items), MAX_BATCH)]
        for done, chunk in enumerate(chunks):
            try:
                _write_batch(chunk)
            except BaseException:  # interrupted: what is not written yet waits for the next flush
                with _queue_lock:
                    _queue[:0] = [item for rest in chunks[done:] for item in rest if item[0]._queued]
                raise


def _write_batch(items: list[tuple[DeferredRun, NewRun]]) -> None:
    client = items[0][0].client
    try:
        ids = client.store.create_runs([finished for _, finished in items])
    except (KeyboardInterrupt, SystemExit):
        raise
    except StoreUnavailableError as exc:  # each run alone would wait for the same dead store
        report("record finished runs", exc)
        ids = [None] * len(items)
    except Exception:  # noqa: BLE001 - one bad run must not cost the others theirs
        for run, finished in items:
            run._store(finished)
            run._queued = False
        return
    for (run, _), run_id in zip(items, ids, strict=True):
        run._run_id = run_id
        run._queued = False


def _forget_parent_queue() -> None:
    """A forked child starts with an empty queue and free locks (its parent writes its own runs)."""
    global _queue, _queue_lock, _flush_lock
    _queue, _queue_lock, _flush_lock = [], threading.Lock(), threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_parent_queue)
atexit.register(lambda: safe_call("write the runs left waiting", flush))


# -- the watchdog: long runs are written while they run ----------------------------------
_unwritten: "weakref.WeakSet[DeferredRun]" = weakref.WeakSet()
_watcher: tuple[int, threading.Thread] | None = None
_watch_lock = threading.Lock()


def _watch() -> None:
    """Start (once per process, again after a fork) the thread writing runs open too long."""
    global _watcher
    pid = os.getpid()
    if _watcher is not None and _watcher[0] == pid:
        return
    with _watch_lock:
        if _watcher is not None and _watcher[0] == pid:
            return
        thread = threading.Thread(target=_loop, name="modeldb-deferred-runs", daemon=True)
        thread.start()
        _watcher = (pid, thread)


def _loop() -> None:
    while True:
        time.sleep(_WATCH_EVERY)
        now = time.monotonic()
        try:
            pid = os.getpid()
            waiting = [r for r in list(_unwritten)
                       if r._pid == pid and not r.written and now - r.opened >= WRITE_AFTER_SECONDS]
        except RuntimeError:  # the set changed while copied: look again next time
            continue
        for run in waiting:
            safe_call("write a running run", run.write_now)
        if _queue:
            safe_call("write finished runs", flush)
