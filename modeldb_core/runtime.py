"""The tracking runtime: one write path from the caller's thread to the store.

Every tracking side effect becomes an event (``events.py``), appended on the
caller's thread to this process's journal (``journal.py``) — a JSON encode and
a copy into the mapped file — and queued in memory. The caller never touches the store.

One writer thread per process drains the queue to the store in batches, one
transaction a batch, through the store's one write entry point
(``MetadataStore.apply_events``). It owns everything around that:

- opening the store (the caller never waits for SQLAlchemy or a migration);
- capturing the environment and code versions the events refer to;
- heartbeats of the runs this process has open;
- backoff with a circuit breaker while the store is down or locked: one log line
  when an outage starts and one when it ends, no retry storm; what waits stays
  in the journal (and, up to a bound, in memory); a read or the exit that waits for
  the writer makes it try again early, but not within ``BACKOFF_FIRST`` of a failure;
  a store that says how long to wait (a server's ``Retry-After``) is left alone that
  long (at most ``BACKOFF_MAX``);
- replaying the journals of processes that are gone (``replay.py``);
- fsync of the journal when a run ends and every ``SYNC_SECONDS``;
- batching: events gather for ``WRITE_EVERY`` unless a read or the exit waits for them.

At process exit (the one ``atexit`` hook of ModelDB) runs still open end
``killed``, and the writer gets at most ``exit_timeout`` seconds to drain; what
remains stays in the journal for the next process or ``modeldb sync``. A forked
child starts its own journal and writer. Reads through ModelDB first drain this
process's events (``drain``), bounded by the same timeout, so a script that
tracks and then queries sees its own runs.
"""
from __future__ import annotations

import atexit
import collections
import itertools
import logging
import os
import signal
import threading
import time
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from . import capture, journal as journal_file, replay
from .errors import StoreBusyError, StoreError, StoreUnavailableError
from .events import DEFINE, DROPPABLE, ENDED, HEARTBEAT, STARTED, Event
from .safety import report, safe_call

if TYPE_CHECKING:
    from .config import Settings
    from .store import MetadataStore

log = logging.getLogger("modeldb")

HEARTBEAT_SECONDS = 30.0
SYNC_SECONDS = 1.0
SYNC_AFTER_END = 0.05       # a run's end is fsynced this soon, however long its batch gathers
# How long events gather into one batch while nothing waits for them (a read and the exit
# do not wait it out). A batch's transaction costs the same for one run as for twenty, and
# the writer shares the interpreter with the user's code: an Airflow task of ~100 ms paid
# ~4 ms of writer CPU a task at 0.05 s, ~0.5 ms at 1 s (bench/bench_airflow.py).
WRITE_EVERY = 1.0
MAX_BATCH = 5_000           # events in one transaction
MAX_TOGETHER = 1_000        # events in one journal record (below MAX_BATCH: a batch read back holds one whole)
MAX_IN_MEMORY = 200_000     # beyond this, events wait in the journal only (read back by the writer)
RESTART_AT = 16 * 1024 * 1024   # an applied journal this large is emptied
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 30.0
BUSY_QUIET = 30.0           # contention (other writers hold the store) is logged once it lasts this long
READ_PATIENCE = 120.0       # the longest a read waits for this process's events (store opening included)
ENVIRONMENT = "env"


def environment_definition() -> dict[str, Any]:
    """This interpreter's environment, as the definition runs refer to by ``ENVIRONMENT``."""
    env = capture.environment()
    return {"type": "environment", "hash": env.hash, "python_version": env.python_version,
            "platform": env.platform, "packages": env.packages}


def _dict(version: Any) -> dict[str, Any]:
    return {"uri": version.uri, "kind": version.kind, "content_hash": version.content_hash,
            "size": version.size, "metadata": version.metadata,
            "fingerprint_method": version.fingerprint_method}


def _sequence() -> "itertools.count[int]":
    """This process's event sequence numbers. Several processes may log into one run (a
    task Luigi suspends in one worker and runs again in another, a forked child): their
    numbers must not meet, so each process counts from its pid shifted past any count."""
    return itertools.count((os.getpid() << 32) + 1)


class Runtime:
    """The journal and the writer of one process for one store."""

    def __init__(self, settings: "Settings", open_store: Callable[[], "MetadataStore"]):
        self.settings = settings
        self._open_store = open_store
        self._store: "MetadataStore | None" = None
        self._store_lock = threading.Lock()
        self._folder = journal_file.folder_for(settings.journal, settings.uri)
        self._lock = threading.Lock()
        self._journal: journal_file.Journal | None = None
        self._queue: collections.deque[tuple[int, Event]] = collections.deque()
        self._together: dict[int, list[Event]] = {}  # a thread's events journaled as one record
        self._spilled = False
        self._seq = _sequence()
        self._wake = threading.Event()
        self._progress = threading.Condition(threading.Lock())
        self._writer: threading.Thread | None = None
        self._stop = threading.Event()  # set by close(): the writer of that time finishes
        self._pid = os.getpid()
        # What events refer to by key: the environment, code versions (journaled once).
        self._definitions: dict[str, dict[str, Any]] = {}
        self._code_keys: dict[Any, str] = {}
        self._code_sources: dict[str, tuple[Any, str | None]] = {}
        self._pipeline_runs: set[str] = set()
        self._script_pipeline_runs: set[str] = set()
        self._open: dict[str, Any] = {}  # run id -> ActiveRun
        self._unsynced_end = False
        self._urgent = False  # a read or the exit waits: the writer does not let the batch gather
        self._outage_since: float | None = None
        self._outage_said = False  # the outage's one log line is out
        self._dropped = 0
        self._look_for_orphans = False
        self.replayed: list[Any] = []  # what this process's writer replayed (replay.Replayed)
        # Runs also sent as OpenLineage events, once the store has them (MODELDB_OPENLINEAGE_URL).
        self._openlineage = None
        if settings.openlineage_url:
            from .openlineage import Emitter

            self._openlineage = Emitter(settings.openlineage_url)
        _runtimes.add(self)

    # -- the caller's side: cheap, never waits on the store ---------------------------
    def emit(self, kind: str, subject: str, data: Any, seq: int | None = None) -> None:
        """Journal one event and queue it for the writer. ``seq`` 0 makes an event that
        anything else about its subject overrides (an end presumed at exit)."""
        event = Event(kind, subject, next(self._seq) if seq is None else seq, data)
        if self._together:
            group = self._together.get(threading.get_ident())
            if group is not None:
                group.append(event)
                return
        self._journal_events((event,), kind in DROPPABLE, kind == ENDED)

    def together(self) -> "Together":
        """``with runtime.together():`` the events this thread emits inside are journaled as
        one record when the block ends (an orchestrator hook's start, input and recipe: one
        encoding, checksum and copy instead of one each, on a cache the orchestrator's own
        work left cold). Nested blocks are the outermost one's."""
        return Together(self)

    def _journal_events(self, events: tuple[Event, ...], droppable: bool, ended: bool) -> None:
        """Append ``events`` as one record and queue them; ``droppable``: some may be dropped
        over the journal's cap, ``ended``: one ends a run."""
        record = journal_file.encode(*events)
        with self._lock:
            if self._journal is None:
                self._start()
            journal = self._journal
            if droppable and self._over_cap(journal):
                for dropped in [e for e in events if e.kind in DROPPABLE]:
                    self._drop(dropped.kind)
                events = tuple(e for e in events if e.kind not in DROPPABLE)
                if not events:
                    return
                record = journal_file.encode(*events)
            try:
                end = journal.append(record)
            except OSError as exc:  # a full or read-only disk: the store may still take it
                report("append to the tracking journal", exc)
                end = journal.end
            if not self._spilled:
                if len(self._queue) < MAX_IN_MEMORY:
                    # The events of one record share its end: the writer marks a record
                    # applied only once all of its events are (_write_batch).
                    self._queue.extend(zip(itertools.repeat(end), events))
                else:
                    self._spilled = True  # the writer reads the rest back from the journal
            if ended:
                self._unsynced_end = True

    def code_key(self, fn: Any, source_file: str | None) -> str:
        """A short key for the code version of ``fn`` (or a source file), captured by the writer."""
        source = fn if fn is not None else source_file
        try:
            found = self._code_keys.get(source)
        except TypeError:  # an unhashable callable
            source = id(source)
            found = self._code_keys.get(source)
        if found is None:
            with self._lock:
                found = self._code_keys.get(source)
                if found is None:
                    found = f"code:{len(self._code_keys) + 1}"
                    self._code_sources[found] = (fn, source_file)
                    self._code_keys[source] = found
        return found

    def pipeline_started(self, key: str, data: dict[str, Any], script: bool = False) -> None:
        if key in self._pipeline_runs:
            return
        self._pipeline_runs.add(key)
        if script:
            self._script_pipeline_runs.add(key)
        self.emit("pipeline_started", key, data)

    def opened(self, run: Any) -> None:
        self._open[run.id] = run
        self._ensure_writer()
        _handle_sigterm()

    def closed(self, run: Any) -> None:
        self._open.pop(run.id, None)

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until the store has what this process recorded; False if it did not in time.

        With ``timeout``, wait at most that long. Without (a read through ModelDB, the
        process exit), wait while the writer is getting there — the store may still
        be opening — and at most ``exit_timeout`` once it reports an outage.
        """
        if os.getpid() != self._pid or threading.current_thread() is self._writer:
            return True
        start = time.monotonic()
        bound = self.settings.exit_timeout
        outage_seen: float | None = None
        if self._writer is not None and self._writer.is_alive():
            self._look_for_orphans = True  # what this process's forked workers left goes first
        with self._progress:
            while self._has_pending() or self._look_for_orphans:
                self._ensure_writer()
                self._urgent = True
                self._wake.set()
                waited = time.monotonic() - start
                if timeout is not None:
                    if waited >= timeout:
                        return False
                elif waited >= READ_PATIENCE:
                    return False
                elif self._outage_since is not None:
                    if outage_seen is None:
                        outage_seen = time.monotonic()
                    elif time.monotonic() - outage_seen >= bound:
                        return False
                self._progress.wait(0.05)
        return True

    def _has_pending(self) -> bool:
        return bool(self._queue) or self._spilled

    # -- the journal --------------------------------------------------------------------
    def _start(self) -> None:
        """Open this process's journal and start its writer (the append lock is held)."""
        self._journal = journal_file.Journal(self._folder)
        self._ensure_writer()

    def _over_cap(self, journal: journal_file.Journal) -> bool:
        if journal.pending_bytes > self.settings.journal_max_bytes:
            return True
        since = self._outage_since
        return since is not None and time.time() - since > self.settings.journal_max_age

    def _drop(self, kind: str) -> None:
        self._dropped += 1
        if self._dropped == 1:
            log.warning("ModelDB's journal is over its cap (%d bytes or %.0f s of outage): new %s "
                        "events are no longer kept (params, tags, lineage and status still are)",
                        self.settings.journal_max_bytes, self.settings.journal_max_age, kind)

    @property
    def dropped(self) -> int:
        return self._dropped

    # -- the writer ---------------------------------------------------------------------
    def _ensure_writer(self) -> None:
        if self._writer is None or not self._writer.is_alive():
            self._writer = threading.Thread(target=self._write_loop, args=(self._stop,),
                                            name="modeldb-writer", daemon=True)
            self._writer.start()

    def _write_loop(self, stop: threading.Event) -> None:
        store = None
        backoff = 0.0
        quiet_until = 0.0  # before then the writer sends nothing, however often it is woken
        last_beat = last_sync = time.monotonic()
        due = last_beat + WRITE_EVERY  # the next batch, unless a read or the exit asks sooner
        self._look_for_orphans = True  # journals of processes gone before this one started
        while True:
            self._wake.wait(max(0.0, min(due - time.monotonic(), SYNC_AFTER_END)))
            self._wake.clear()
            now = time.monotonic()
            if self._unsynced_end or now - last_sync >= SYNC_SECONDS:
                last_sync = now
                self._sync()
            if now < due and not self._urgent and not stop.is_set():
                continue  # woken to sync a run's end: the batch still gathers
            self._urgent = False
            # Woken early by a read or the exit that drains (every few ms while the store fails):
            # the rest of ``quiet_until`` is slept out; only the exit (``stop``) cuts it short,
            # and then nothing is sent.
            stop.wait(quiet_until - time.monotonic())
            now = time.monotonic()
            try:
                if now >= quiet_until:
                    if store is None:
                        store = self._writer_store()
                    if now - last_beat >= HEARTBEAT_SECONDS:
                        last_beat = now
                        self._beat()
                        self._look_for_orphans = True
                    if self._look_for_orphans:  # a forked worker that exited or died since
                        self._replay_orphans(store)
                        store.apply_events([], {})  # and what another writer's events left parked
                        self._look_for_orphans = False
                    while self._write_batch(store):
                        pass
                    backoff = 0.0
                    self._recovered()
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as exc:  # noqa: BLE001 - the writer never dies of the store
                backoff = min(BACKOFF_MAX, backoff * 2 or BACKOFF_FIRST)
                # A read or the exit may try again sooner than the backoff (the store may be back:
                # the read should see its runs), but not sooner than BACKOFF_FIRST: a drain woke the
                # writer as fast as it failed (2,000 requests in a 2 s exit to a server answering 503).
                quiet = min(backoff, BACKOFF_FIRST)
                if isinstance(exc, StoreUnavailableError) and exc.retry_after is not None:
                    # The store said how long (a server over its rate limit): that, not the
                    # backoff's guess, and not before, however often a read wakes the writer.
                    backoff = quiet = min(BACKOFF_MAX, exc.retry_after)
                quiet_until = time.monotonic() + quiet
                self._outage(exc)
            due = time.monotonic() + max(backoff, WRITE_EVERY)
            with self._progress:
                self._progress.notify_all()
            if stop.is_set():
                return

    def _write_batch(self, store: "MetadataStore") -> bool:
        """Apply the next batch of events; True if there may be more."""
        with self._lock:
            if self._spilled and not self._queue:
                batch = self._read_back()
            else:
                batch = list(itertools.islice(self._queue, MAX_BATCH + 1))
            following = batch.pop() if len(batch) > MAX_BATCH else None
        if not batch:
            return False
        events = [event for _, event in batch]
        definitions = self._definitions_for(events)
        try:
            store.apply_events(events, definitions)
        except StoreUnavailableError:
            raise
        except StoreError as exc:  # the store refused something in the batch: find what
            self._apply_one_by_one(store, events, definitions, exc)
        if self._openlineage is not None:
            self._openlineage.emit(events)
        with self._lock:
            if self._queue and self._queue[0] is batch[0]:
                for _ in range(len(batch)):
                    self._queue.popleft()
            journal = self._journal
            if journal is not None:
                offset = batch[-1][0]
                if following is not None and following[0] == offset:
                    # The batch ends inside a record of several events: the record is applied
                    # once all of them are (those applied now are applied again, as after a crash).
                    offset = max((end for end, _ in batch if end < offset), default=journal.applied)
                journal.mark_applied(max(offset, journal.applied))
                if not self._queue and not self._spilled and journal.end >= RESTART_AT \
                        and journal.applied >= journal.end:
                    journal.restart()
                    self._rejournal_definitions()
        return len(batch) == MAX_BATCH or bool(self._queue) or self._spilled

    def _apply_one_by_one(self, store: "MetadataStore", events: list[Event],
                          definitions: dict[str, Any], refused: Exception) -> None:
        """Apply a refused batch event by event: one the store refuses (a broken table, a
        value it cannot hold) is reported and dropped; the others land."""
        report("write a batch of tracking events (writing them one by one)", refused)
        for event in events:
            try:
                store.apply_events([event], definitions)
            except StoreUnavailableError:
                raise
            except StoreError as exc:
                report(f"write a {event.kind} event of {event.subject} (dropped)", exc)

    def _read_back(self) -> list[tuple[int, Event]]:
        """The events past the applied offset, read back from the journal (the lock is held),
        a batch and the one after it."""
        journal = self._journal
        # One batch and one event more (parsing the whole rest of a journal for every batch
        # made a long outage's catching up quadratic).
        chunks = journal_file.read_in_chunks(journal.path, journal.applied, journal_file.Contents(journal.path),
                                             chunk=MAX_BATCH + 1)
        events = next(chunks, [])
        chunks.close()
        if len(events) <= MAX_BATCH:
            self._spilled = False  # caught up: new events go to memory again
        return events[:MAX_BATCH + 1]  # one more: _write_batch sees whether a record goes on

    def _definitions_for(self, events: list[Event]) -> dict[str, dict[str, Any]]:
        """The definitions the batch refers to, captured (and journaled) the first time."""
        needed = {}
        for event in events:
            if event.kind == STARTED:
                for key in (event.data.get("code"), event.data.get("env")):
                    if key and key not in needed:
                        needed[key] = self._definition(key)
            elif event.kind == DEFINE:
                self._definitions.setdefault(event.subject, event.data)
        return {k: v for k, v in needed.items() if v is not None}

    def _definition(self, key: str) -> dict[str, Any] | None:
        found = self._definitions.get(key)
        if found is not None:
            return found
        try:
            with _importing:
                found = self._capture(key)
        except Exception as exc:  # noqa: BLE001 - a run without its code version still lands
            report("capture the code or environment of a run", exc)
            return None
        self._definitions[key] = found
        self.emit(DEFINE, key, found)  # so a replay of this journal knows it too
        return found

    def _capture(self, key: str) -> dict[str, Any]:
        """The content of a definition: the environment, or the code version of a key."""
        if key == ENVIRONMENT:
            found = environment_definition()
        else:
            fn, source_file = self._code_sources[key]
            code = capture.code_version(fn, source_file=source_file,
                                        untracked_max_bytes=self.settings.untracked_source_max_bytes)
            found = {"type": "code", **{k: getattr(code, k) for k in (
                "hash", "git_commit", "git_branch", "git_dirty", "git_diff_hash", "repo_path",
                "source_file", "function", "source_hash")}}
            if code.git_diff_hash:
                try:
                    self._keep_diff(code.git_diff_hash)
                except Exception as exc:  # noqa: BLE001 - the code version lands without its diff
                    report("keep the diff of a dirty tree", exc)
        return found

    def _keep_diff(self, diff_hash: str) -> None:
        """The diff of a dirty tree (with any untracked source file of the function), into
        the artifact store under its hash: what ``modeldb reproduce`` applies. On the writer."""
        diff = capture.diff_content(diff_hash)
        if diff is None:
            return
        from .artifact_store import ArtifactStore

        store = ArtifactStore(self.settings.artifacts, private=self.settings.private_files)
        if not store.exists(diff_hash):
            store.put_bytes(diff, {"format": "git-diff"})

    def _rejournal_definitions(self) -> None:
        """An emptied journal starts with the definitions later events refer to (the lock is held)."""
        for key, value in self._definitions.items():
            event = Event(DEFINE, key, next(self._seq), value)
            self._queue.append((self._journal.append(journal_file.encode(event)), event))

    def _beat(self) -> None:
        now = time.time()
        for run_id in list(self._open):
            self.emit(HEARTBEAT, run_id, now)

    def _sync(self) -> None:
        journal = self._journal
        if journal is None:
            return
        self._unsynced_end = False
        try:
            journal.sync()
        except (OSError, ValueError) as exc:
            if self._journal is journal:  # not closed under us (close() syncs it itself)
                report("sync the tracking journal", exc)

    def _outage(self, exc: Exception) -> None:
        now = time.time()
        if self._outage_since is None:
            self._outage_since = now
        # Other writers holding the store (many processes on one SQLite file) is contention:
        # said only once it lasts, so a busy moment prints nothing on the user's terminal.
        if self._outage_said or (isinstance(exc, StoreBusyError) and now - self._outage_since < BUSY_QUIET):
            return
        self._outage_said = True
        log.warning("ModelDB cannot write to its store (%s: %s); tracking goes on and keeps "
                    "what it records in %s until the store is back", type(exc).__name__, exc,
                    self._folder)

    def _recovered(self) -> None:
        if self._outage_since is not None and self._outage_said:
            log.warning("ModelDB's store is reachable again after %.1f s; what waited is written",
                        time.time() - self._outage_since)
        self._outage_since, self._outage_said = None, False

    def _replay_orphans(self, store: "MetadataStore") -> list[Any]:
        exclude = self._journal.path if self._journal is not None else None
        done = replay.replay_folder(store, self._folder, exclude=exclude)
        self.replayed.extend(done)
        return done

    def replay_now(self) -> list[Any]:
        """Replay the journals of processes that are gone, now, on the caller's thread (for an
        integration that learns a worker died: its runs are then in the store)."""
        return self._replay_orphans(self._writer_store())

    def _writer_store(self) -> "MetadataStore":
        with self._store_lock:
            if self._store is None:
                with _importing:  # see _importing below
                    self._store = self._open_store()
            return self._store

    # -- the end ------------------------------------------------------------------------
    def close(self, timeout: float | None = None, why: str = "the process exited before the run was ended",
              exiting: bool = False) -> bool:
        """End what is open (``killed``), drain for at most ``timeout`` s; True if nothing is left.

        ``exiting``: the process ends; if the writer has not opened the store yet, the journal
        is handed to a background writer instead of waiting for it (handoff.py)."""
        if os.getpid() != self._pid:
            return False
        from .model import RunStatus

        for run in list(self._open.values()):
            try:
                # Presumed, as a replay presumes it: an orchestrator that says why the process
                # ended (Luigi's verdict on a task it terminated) overrides it.
                run.end(RunStatus.KILLED, message=why, presumed=True)
            except Exception as exc:  # noqa: BLE001
                report("end a run left open", exc)
        now = time.time()
        for key in self._script_pipeline_runs:
            self.emit("pipeline_ended", key, {"status": RunStatus.SUCCEEDED.value, "ended_at": now})
        self._script_pipeline_runs.clear()
        handed_off = exiting and self._hand_off()
        done = handed_off or self.drain(timeout)
        with self._lock:
            journal, self._journal = self._journal, None
            if journal is not None:
                if not handed_off:  # handoff.start synced it
                    self._sync_quietly(journal)
                journal.close(remove=not handed_off and done and not self._has_pending())
            self._queue.clear()
            self._spilled = False
            # The writer of this time finishes; recording again starts a new journal and writer.
            self._stop.set()
            self._stop = threading.Event()
            self._writer = None
        self._wake.set()
        return done

    def _hand_off(self) -> bool:
        """Start a background writer of this journal if the store is not open yet (at exit)."""
        if (not self.settings.exit_handoff or self._openlineage is not None or self._store is not None
                or self._outage_since is not None):  # a store known to be down: wait as before
            return False
        with self._lock:
            journal = self._journal
            if journal is None or not self._has_pending():
                return False
            # Code versions need this process's functions: captured here (cheap, cached);
            # the environment is captured by the handed-off writer, the same interpreter.
            keys = {e.data.get("code") for _, e in self._queue if e.kind == STARTED}
        for key in keys - {None}:
            self._definition(key)
        from . import handoff

        with self._lock:
            if self._store is not None or self._journal is not journal:
                return False  # the writer got there meanwhile: draining is cheap now
            if not handoff.start(self.settings, journal):
                return False  # no process could be started: this one drains, as before
            self._stop.set()  # this writer's work is the handed-off one's now
            return True

    @staticmethod
    def _sync_quietly(journal: journal_file.Journal) -> None:
        try:
            journal.sync()
        except OSError:
            pass

    def _after_fork_in_child(self) -> None:
        """A forked child keeps nothing of its parent's journal, queue, writer or open runs."""
        if self._journal is not None:
            self._journal.forget_in_child()
        self._journal = None
        self._lock = threading.Lock()
        self._progress = threading.Condition(threading.Lock())
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._queue = collections.deque()
        self._together = {}
        self._spilled = False
        self._writer = None
        self._store_lock = threading.Lock()  # the store object stays: its engine was disposed at the fork
        self._open = {}
        self._pipeline_runs = set()
        self._script_pipeline_runs = set()
        self._seq = _sequence()
        self._pid = os.getpid()
        self._definitions = {}

    @property
    def journal_path(self) -> Path | None:
        return self._journal.path if self._journal is not None else None

    @property
    def folder(self) -> Path:
        return self._folder


class Together:
    """What ``Runtime.together()`` returns: while it is open, the thread's events gather and
    are journaled when it closes (at most ``MAX_TOGETHER`` to a record), whatever ended it."""

    __slots__ = ("_runtime", "_thread", "_events")

    def __init__(self, runtime: Runtime):
        self._runtime = runtime
        self._thread = threading.get_ident()
        self._events: list[Event] | None = None

    def __enter__(self) -> "Together":
        if self._thread not in self._runtime._together:  # an inner block: the outer one journals
            self._events = self._runtime._together[self._thread] = []
        return self

    def __exit__(self, *exc: object) -> None:
        events = self._events
        if events is None:
            return
        runtime = self._runtime
        runtime._together.pop(self._thread, None)
        for start in range(0, len(events), MAX_TOGETHER):
            chunk = tuple(events[start:start + MAX_TOGETHER])
            kinds = {event.kind for event in chunk}
            try:
                runtime._journal_events(chunk, not kinds.isdisjoint(DROPPABLE), ENDED in kinds)
            except Exception:  # noqa: BLE001 - an event that is no JSON costs only itself, as alone
                for event in chunk:
                    safe_call(f"journal a {event.kind} event", runtime._journal_events, (event,),
                              event.kind in DROPPABLE, event.kind == ENDED)


_runtimes: "weakref.WeakSet[Runtime]" = weakref.WeakSet()
# Held while the writer imports (opening the store pulls in SQLAlchemy and the store's
# modules; capturing the environment pulls in importlib.metadata) and taken by a fork:
# a child forked while another thread holds a module's import lock would wait on that
# lock forever (Luigi forks its workers while the writer may be starting).
_importing = threading.RLock()
_exit_callbacks: list[Callable[[], None]] = []


def on_exit(callback: Callable[[], None]) -> None:
    """Run ``callback`` at process exit, before open runs are ended and the journal drained
    (integrations end what only they know is over: a Luigi build nobody ended)."""
    if callback not in _exit_callbacks:
        _exit_callbacks.append(callback)


def _forget_in_child() -> None:
    global _importing
    _importing = threading.RLock()
    for runtime in list(_runtimes):
        runtime._after_fork_in_child()


def _hold_importing() -> None:
    _importing.acquire()


def _release_importing() -> None:
    _importing.release()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_hold_importing, after_in_parent=_release_importing,
                        after_in_child=_forget_in_child)


_sigterm_installed = False


def _handle_sigterm() -> None:
    """On the first run of a process, from its main thread: SIGTERM (what orchestrators and
    container runtimes send to stop a task) ends the open runs ``killed`` and writes what is
    journaled (within ``exit_timeout``), then does what the signal did before: the handler
    installed earlier, or the default (the process ends)."""
    global _sigterm_installed
    if _sigterm_installed or threading.current_thread() is not threading.main_thread():
        return
    _sigterm_installed = True
    try:
        previous = signal.getsignal(signal.SIGTERM)
    except (ValueError, OSError):
        return

    def on_sigterm(signum: int, frame: Any) -> None:
        from . import client

        _run_exit_callbacks()
        client.close_at_exit(killed_by="SIGTERM")
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

    try:
        signal.signal(signal.SIGTERM, on_sigterm)
    except (ValueError, OSError):  # not the main thread of the main interpreter
        _sigterm_installed = False


def _run_exit_callbacks() -> None:
    for callback in _exit_callbacks:
        try:
            callback()
        except Exception as exc:  # noqa: BLE001 - the exit goes on
            report("run an exit callback", exc)


def _at_exit() -> None:
    from . import client

    _run_exit_callbacks()
    client.close_at_exit()


atexit.register(_at_exit)
