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
from .events import DEFINE, ENDED, PIPELINE_ENDED, PIPELINE_STARTED, STARTED, Event

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


def plan(contents: journal_file.Contents, applied: int) -> tuple[list[Event], dict[str, Any], int, int]:
    """The events to apply (past ``applied``, plus a ``killed`` end for each run left open),
    the definitions they refer to, and how many runs and open runs the journal holds."""
    definitions: dict[str, Any] = {}
    started: dict[str, float] = {}
    ended: set[str] = set()
    last_seen: dict[str, float] = {}
    scripts: set[str] = set()
    pipelines_ended: set[str] = set()
    todo: list[Event] = []
    last_seq = 0
    for offset, event in contents.events:
        last_seq = max(last_seq, event.seq)
        kind = event.kind
        if kind == DEFINE:
            definitions[event.subject] = event.data
        elif kind == STARTED:
            started[event.subject] = event.data.get("started_at") or 0.0
        elif kind == ENDED:
            ended.add(event.subject)
        elif kind == PIPELINE_STARTED and event.data.get("script"):
            scripts.add(event.subject)
        elif kind == PIPELINE_ENDED:
            pipelines_ended.add(event.subject)
        if kind == "heartbeat":
            last_seen[event.subject] = max(last_seen.get(event.subject, 0.0), float(event.data))
        if offset > applied:
            todo.append(event)
    open_runs = [run for run in started if run not in ended]
    now = time.time()
    for run in open_runs:
        # Sequence number 0: this end only holds if nothing else ends the run (the reaper,
        # an orchestrator saying why the process died).
        todo.append(Event(ENDED, run, 0, {
            "status": "killed", "ended_at": max(last_seen.get(run, 0.0), started[run]) or now,
            "error_message": KILLED_MESSAGE}))
    for key in scripts - pipelines_ended:
        last_seq += 1
        todo.append(Event(PIPELINE_ENDED, key, last_seq, {"status": "killed", "ended_at": now}))
    return todo, definitions, len(started), len(open_runs)


def replay_file(store: "MetadataStore", orphan: journal_file.Orphan,
                environment: Callable[[], dict[str, Any]] | None = None) -> Replayed:
    """Apply what ``orphan`` holds past its applied offset, then remove it. ``environment``
    captures the environment its runs refer to when the journal does not define it (a
    journal handed off at exit, replayed by the same interpreter)."""
    applied = journal_file.applied_offset(orphan.path)
    contents = journal_file.read(orphan.path, start=0)
    todo, definitions, runs, killed = plan(contents, applied)
    if environment is not None:
        keys = {e.data.get("env") for e in todo if e.kind == STARTED} - set(definitions) - {None}
        for key in keys:
            definitions[key] = environment()
    for start in range(0, len(todo), BATCH):
        store.apply_events(todo[start:start + BATCH], definitions)
    orphan.remove()
    return Replayed(orphan.path, len(todo), runs, killed, contents.torn)


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
