"""Task-run store writes off the task's thread: one writer thread per process, in order.

Why: inside a Prefect process the task's thread shares the GIL with Prefect's
own threads (event and log workers, its event loop). Every database statement
releases the GIL and has to win it back, so the two transactions a run needs
(create, then end) cost several milliseconds when made from the task's thread,
against well under one in a quiet process. The hooks therefore only validate,
fingerprint and buffer (all in memory, where errors still surface at once), and
hand the writes to this thread. A run is created before it is ended, and a
flow's task runs are stored before the flow's end is; run creations that wait
together share one transaction.

The flow's terminal hook waits (``drain``) until everything submitted is
written, so when a flow call returns its runs are in the store; so does the
process at exit. ``PendingRun`` is a run whose writes all go through this thread.
"""
from __future__ import annotations

import os
import queue
import threading
import time
from typing import Any, Callable

from modeldb_core import params as param_rule
from modeldb_core import validation
from modeldb_core.client import TrackingClient
from modeldb_core.model import NewRun, RunStatus, RunUpdate
from modeldb_core.run import ActiveRun
from modeldb_core.safety import safe_call

# Submissions beyond this many wait for the thread (a slow store slows the flow, never loses runs).
MAX_QUEUED = 10_000
# How long a flow's end waits for the writes before it: a store has its own timeouts.
WAIT_SECONDS = 120.0
# A run's row is written this long after it started (sooner when someone drains; see PendingRun).
WRITE_AFTER_SECONDS = 0.25
# At most this many run creations share one transaction.
MAX_BATCH = 50


class Writer:
    def __init__(self) -> None:
        self.pid = os.getpid()
        self._queue: queue.Queue = queue.Queue(maxsize=MAX_QUEUED)
        self.hurry = threading.Event()  # someone waits for the queue: stop gathering a batch
        self.thread = threading.Thread(target=self._loop, name="modeldb-prefect-writer", daemon=True)
        self.thread.start()

    def submit(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run ``fn(*args, **kwargs)`` on the writer thread; a failure is logged as ``what``."""
        self._queue.put((what, fn, args, kwargs))

    def drain(self, timeout: float = WAIT_SECONDS) -> bool:
        """Wait until everything submitted so far is written; False if that took too long."""
        if threading.current_thread() is self.thread:
            return True
        if not self.thread.is_alive():
            return self._queue.empty()
        done = threading.Event()
        self._queue.put(("", self._drained, (done,), {}))
        self.hurry.set()
        return done.wait(timeout)

    def _drained(self, done: threading.Event) -> None:
        if self._queue.empty():
            self.hurry.clear()
        done.set()

    def _gather_time(self, run: PendingRun) -> None:
        """Let the first run of a batch reach ``WRITE_AFTER_SECONDS`` (unless a drain is waiting):
        the short runs that start and end meanwhile are written with it."""
        wait = WRITE_AFTER_SECONDS - (time.monotonic() - run.submitted)
        if wait > 0:
            self.hurry.wait(wait)

    def _loop(self) -> None:
        item = None
        while True:
            item = item or self._queue.get()
            what, fn, args, kwargs = item
            if fn is not _create:
                safe_call(what or "write tracking data", fn, *args, **kwargs)
                item = None
                continue
            # Run creations: the first waits until its run is WRITE_AFTER_SECONDS old; the
            # creations queued behind it whose runs have ended by then join it in one
            # transaction. The flushes of those runs (their ends) come right after it.
            batch, after, item = [args], [], None
            safe_call("wait for a run", self._gather_time, args[0])
            while len(batch) < MAX_BATCH:
                try:
                    queued = self._queue.get_nowait()
                except queue.Empty:
                    break
                if _joins(batch, queued):
                    batch.append(queued[2])
                elif _flushes_one_of(batch, queued):
                    after.append(queued)
                else:
                    item = queued
                    break
            safe_call("start runs", _create_all, batch)
            for what, fn, args, kwargs in after:
                safe_call(what, fn, *args, **kwargs)


_writer: Writer | None = None
_writer_lock = threading.Lock()


def get_writer() -> Writer:
    """This process's writer (a forked child starts its own: threads do not survive a fork)."""
    global _writer
    found = _writer
    if found is not None and found.pid == os.getpid() and found.thread.is_alive():
        return found
    with _writer_lock:
        if _writer is None or _writer.pid != os.getpid() or not _writer.thread.is_alive():
            _writer = Writer()
        return _writer


def drain() -> bool:
    found = _writer
    if found is None or found.pid != os.getpid():
        return True
    return found.drain()


class PendingRun(ActiveRun):
    """A run whose store writes all go through the writer thread, its creation first.

    Logging into it (params, metrics, tags, inputs, outputs, ``end``) buffers in
    memory at once, as for any run; each flush is handed to the writer, which
    runs it after the row exists. So ``end`` records the moment it was called,
    and a task logging many metrics never waits for the store.

    The writer creates the row once the run is ``WRITE_AFTER_SECONDS`` old (at
    once when someone drains the queue): a run that succeeded by then is written
    whole, lineage included (``NewRun`` with ``inputs`` / ``outputs``), instead
    of a create and an update, and with the other runs that ended meanwhile, in
    one transaction. Most Prefect tasks in a big flow take milliseconds; a long
    one shows as running after that short delay.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.submitted = time.monotonic()
        self.finished = threading.Event()

    def end(self, *args: Any, **kwargs: Any) -> None:
        try:
            super().end(*args, **kwargs)
        finally:
            self.finished.set()

    def take_finished(self) -> RunUpdate | None:
        """Everything buffered, if the run succeeded and all of it fits in one ``NewRun``."""
        # The buffer is ActiveRun's; taking it under its lock is what ActiveRun.flush does too.
        with self._lock:
            pending = self._pending
            if pending.status != RunStatus.SUCCEEDED.value or pending.notes or pending.error_message:
                return None
            self._pending = RunUpdate()
        return pending

    def flush(self, heartbeat: bool = False) -> None:
        writer = get_writer()
        if threading.current_thread() is writer.thread:
            ActiveRun.flush(self, heartbeat=heartbeat)
        else:
            writer.submit("write a run", ActiveRun.flush, self, heartbeat=heartbeat)


def start(name: str, *, project: str, phase: str | None, params: dict[str, Any], tags: dict[str, Any],
          parent: ActiveRun | None, pipeline_run_id: int | None, orchestrator: str,
          external_id: str, try_number: int, code: Callable[..., Any], started_at: float,
          client: TrackingClient) -> ActiveRun:
    """Like ``modeldb_core.start_run`` (same checks, same row), with the row written by the writer."""
    name = validation.name("run name", name)
    phase = validation.phase(phase)
    checked_params = {validation.key("params key", k): param_rule.normalize(v) for k, v in params.items()}
    checked_tags = {validation.key("tags key", k): validation.text(f"tags.{k}", str(v), validation.MAX_TAG_VALUE)
                    for k, v in tags.items()}
    if client.seed is not None and "seed_everything" not in checked_params:
        checked_params["seed_everything"] = client.seed
    run = PendingRun(client, None, name, project, pipeline_run_id, checked_params)
    new = NewRun(project=project, name=name, phase=phase, started_at=started_at or time.time(),
                 pipeline_run_id=pipeline_run_id, orchestrator=orchestrator, external_id=external_id,
                 try_number=try_number, user=client.user, host=client.host, pid=client.pid,
                 params=checked_params, tags=checked_tags)
    get_writer().submit("start a run", _create, run, new, parent, code)
    return run


def _create(run: PendingRun, new: NewRun, parent: ActiveRun | None, code: Callable[..., Any]) -> None:
    """Marks a queued run creation; the writer's loop makes it (``_create_all``)."""
    _create_all([(run, new, parent, code)])




def _joins(batch: list[tuple], item: tuple) -> bool:
    """Whether a queued item is a creation that can share ``batch``'s transaction."""
    if item[1] is not _create:
        return False
    run, _, parent, _ = item[2]
    # A parent in this same batch has no id yet for its child to point to.
    return (run.finished.is_set() and run.client is batch[0][0].client
            and all(parent is not other[0] for other in batch))


def _flushes_one_of(batch: list[tuple], item: tuple) -> bool:
    """A flush of a run in ``batch``: it only needs that run's row, so it may follow the batch."""
    return item[1] is ActiveRun.flush and any(item[2][0] is other[0] for other in batch)


def _prepared(run: PendingRun, new: NewRun, parent: ActiveRun | None, code: Callable[..., Any]) -> NewRun:
    client = run.client
    # The parent was created earlier (or in an earlier batch), so its id is known by now.
    new.parent_run_id = parent.id if parent is not None else None
    if new.pipeline_run_id is None:
        new.pipeline_run_id = run.pipeline_run_id = client.script_pipeline_run(new.project).id
    new.code_version_id = client.code_version_id(code, None)
    new.environment_id = client.environment_id()
    done = run.take_finished() if run.finished.is_set() else None
    if done is not None:  # succeeded already: the whole run, lineage included, in this one write
        new.params = {**new.params, **done.params}
        new.tags = {**new.tags, **done.tags}
        new.metrics, new.inputs, new.outputs = done.metrics, done.inputs, done.outputs
        new.status, new.ended_at = done.status, done.ended_at
    return new


def _create_all(batch: list[tuple]) -> None:
    """On the writer thread: the rows of ``batch`` (a run whose row fails stays id-less, logs nothing)."""
    ready = []
    for run, new, parent, code in batch:
        prepared = safe_call("start a run", _prepared, run, new, parent, code)
        if prepared is not None:
            ready.append((run, prepared))
    if not ready:
        return
    client = ready[0][0].client
    try:
        ids = client.store.create_runs([new for _, new in ready])
    except Exception:  # noqa: BLE001 - one bad run must not cost the others theirs
        if len(ready) == 1:
            raise
        ids = [safe_call("start a run", client.store.create_run, new) for _, new in ready]
    for (run, _), run_id in zip(ready, ids, strict=True):
        run.id = run_id
        if run_id is not None and not run.ended:
            client.register(run)  # heartbeats while it runs
