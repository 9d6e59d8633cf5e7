"""Replaying the journals of processes that are gone into the store.

The next ModelDB process that opens the same store replays them from its
writer thread, and ``modeldb sync`` does it on demand. A run whose process
died before the run ended is replayed with everything it logged and then ends
``killed`` (what the reaper would have said), as does the plain script's
pipeline run. Replaying is safe to repeat: the store applies events
idempotently, so a journal replayed twice, or replayed after part of it was
written, leaves the store as one in-order delivery would.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from . import journal as journal_file
from .events import DEFINE, ENDED, HEARTBEAT, PIPELINE_ENDED, PIPELINE_STARTED, STARTED, Event

if TYPE_CHECKING:
    from .store import MetadataStore

BATCH = 5_000
KILLED_MESSAGE = "the process died before the run ended (replayed from its journal)"


@dataclass
class Replayed:
    path: Path
    events: int
    runs: int
    killed: int
    torn: str | None


class _Plan:
    """What a journal says about its runs, learnt event by event: which runs it started,
    which it ended, when each was last seen alive, the script pipeline runs it left open."""

    def __init__(self) -> None:
        self.started: dict[str, float] = {}
        self.ended: set[str] = set()
        self.last_seen: dict[str, float] = {}
        self.scripts: set[str] = set()
        self.pipelines_ended: set[str] = set()
        self.last_seq = 0

    def see(self, events: list[tuple[int, Event]], applied: int) -> list[Event]:
        """Learn from ``events``; returns those past ``applied`` (to apply)."""
        todo = []
        for offset, event in events:
            self.last_seq = max(self.last_seq, event.seq)
            kind = event.kind
            if kind == STARTED:
                self.started[event.subject] = event.data.get("started_at") or 0.0
            elif kind == ENDED:
                self.ended.add(event.subject)
            elif kind == PIPELINE_STARTED and event.data.get("script"):
                self.scripts.add(event.subject)
            elif kind == PIPELINE_ENDED:
                self.pipelines_ended.add(event.subject)
            elif kind == HEARTBEAT:
                self.last_seen[event.subject] = max(self.last_seen.get(event.subject, 0.0), float(event.data))
            if offset > applied:
                todo.append(event)
        return todo

    def ends(self) -> list[Event]:
        """A ``killed`` end for each run left open, and for each script pipeline run."""
        todo = []
        now = time.time()
        for run in self.open_runs:
            # Sequence number 0: this end only holds if nothing else ends the run (the reaper,
            # an orchestrator saying why the process died).
            todo.append(Event(ENDED, run, 0, {
                "status": "killed", "ended_at": max(self.last_seen.get(run, 0.0), self.started[run]) or now,
                "error_message": KILLED_MESSAGE}))
        for key in self.scripts - self.pipelines_ended:
            self.last_seq += 1
            todo.append(Event(PIPELINE_ENDED, key, self.last_seq, {"status": "killed", "ended_at": now}))
        return todo

    @property
    def open_runs(self) -> list[str]:
        return [run for run in self.started if run not in self.ended]


def plan(contents: journal_file.Contents, applied: int) -> tuple[list[Event], dict[str, Any], int, int]:
    """The events to apply (past ``applied``, plus a ``killed`` end for each run left open),
    the definitions they refer to, and how many runs and open runs the journal holds."""
    learnt = _Plan()
    todo = learnt.see(contents.events, applied)
    definitions = {e.subject: e.data for _, e in contents.events if e.kind == DEFINE}
    killed = len(learnt.open_runs)
    todo += learnt.ends()
    return todo, definitions, len(learnt.started), killed


def replay_file(store: "MetadataStore", orphan: journal_file.Orphan,
                environment: Callable[[], dict[str, Any]] | None = None) -> Replayed:
    """Apply what a journal holds past its applied offset, a batch at a time (a journal
    is read and parsed a batch at a time too: its size is bounded only by its cap).
    ``environment`` captures the environment its runs refer to when the journal does not
    define it (a journal handed off at exit, replayed by the same interpreter)."""
    applied = journal_file.applied_offset(orphan.path)
    definitions = journal_file.definitions(orphan.path)
    contents = journal_file.Contents(path=orphan.path)
    learnt = _Plan()
    applied_events = 0
    for chunk in journal_file.read_in_chunks(orphan.path, 0, contents, chunk=BATCH):
        todo = learnt.see(chunk, applied)
        if todo:
            if environment is not None:
                for key in {e.data.get("env") for e in todo if e.kind == STARTED} - set(definitions) - {None}:
                    definitions[key] = environment()
            store.apply_events(todo, definitions)
            applied_events += len(todo)
    killed = len(learnt.open_runs)
    ends = learnt.ends()
    if ends:
        store.apply_events(ends, definitions)
    orphan.remove()
    return Replayed(orphan.path, applied_events + len(ends), len(learnt.started), killed, contents.torn)


def replay_folder(store: "MetadataStore", folder: Path, exclude: Path | None = None) -> list[Replayed]:
    """Replay every journal in ``folder`` whose process is gone; each is removed once applied."""
    done = []
    for orphan in journal_file.orphans(folder, exclude=exclude):
        with orphan:
            result = replay_file(store, orphan)
        if result.torn:
            import logging

            logging.getLogger("modeldb").warning(
                "ModelDB replayed %s up to %s; what followed was lost", result.path, result.torn)
        done.append(result)
    return done


def preview(folder: Path, exclude: Path | None = None) -> Iterator[tuple[Path, int, int, int, str | None, bool]]:
    """What is pending, without applying it: ``(path, events, runs, open runs, torn, alive)``."""
    for path, _, alive in journal_file.pending(folder, exclude=exclude):
        contents = journal_file.read(path, start=0)
        todo, _, runs, killed = plan(contents, journal_file.applied_offset(path))
        yield path, len(todo), runs, killed, contents.torn, alive
