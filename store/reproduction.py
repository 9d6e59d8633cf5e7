"""Reproduction in the SQL store: run recipes and the ``reproduces`` links with their verdicts.

Both arrive as tracking events (``recipe``, ``reproduction``), applied idempotently and
in any order: a recipe part keeps the content of its highest ``seq``; a reproduction
row is made once per reproducing run and its verdict filled in when it arrives. An event
that comes before its run waits for it in ``parked_events`` like the run's other events.
"""
from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any, Sequence

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from modeldb_core.events import RECIPE, REPRODUCTION, Event
from modeldb_core.model import Reproduction

from . import schema as t
from .events import applier, run_ids
from .rows import encode_json

if TYPE_CHECKING:
    from .sql_store import SqlStore


class ReproductionStore:
    """The reproduction methods of ``SqlStore`` (declared in ``MetadataStore``)."""

    def run_recipe(self: "SqlStore", run_id: int | str) -> dict[str, Any]:
        key = self.resolve_run(run_id)
        with self._read() as conn:
            return {r.part: json.loads(r.data) for r in conn.execute(
                select(t.run_recipes.c.part, t.run_recipes.c.data).where(t.run_recipes.c.run_id == key))}

    def reproductions(self: "SqlStore", run_id: int | str) -> tuple[Reproduction | None, list[Reproduction]]:
        key = self.resolve_run(run_id)
        r, new, old = t.reproductions, t.runs.alias("new"), t.runs.alias("old")
        query = (select(new.c.uuid.label("run"), old.c.uuid.label("original"), r.c.verdict, r.c.details,
                        r.c.created_at, r.c.run_id, r.c.original_run_id)
                 .join(new, new.c.id == r.c.run_id).join(old, old.c.id == r.c.original_run_id)
                 .where((r.c.run_id == key) | (r.c.original_run_id == key)).order_by(r.c.id))
        with self._read() as conn:
            rows = conn.execute(query).all()
        found = [Reproduction(run_id=row.run, original_run_id=row.original, verdict=row.verdict,
                              details=json.loads(row.details) if row.details else {}, created_at=row.created_at)
                 for row in rows]
        of = next((f for f, row in zip(found, rows, strict=True) if row.run_id == key), None)
        return of, [f for f, row in zip(found, rows, strict=True) if row.original_run_id == key]


def _park(conn: Connection, events: Sequence[tuple[str, Event]]) -> None:
    if events:
        now = time.time()
        conn.execute(t.parked_events.insert(), [
            {"waits_for": waits_for, "event": encode_json(e.to_json()), "definitions": "{}", "created_at": now}
            for waits_for, e in events])


@applier(RECIPE)
def _apply_recipes(store: "SqlStore", conn: Connection, events: Sequence[Event]) -> list[str]:
    runs = run_ids(conn, {e.subject for e in events})
    _park(conn, [(e.subject, e) for e in events if e.subject not in runs])
    latest: dict[tuple[int, str], Event] = {}
    for event in events:
        if event.subject in runs:
            slot = (runs[event.subject], str(event.data["part"]))
            if slot not in latest or latest[slot].seq < event.seq:
                latest[slot] = event
    # One statement for the batch (a recipe part a run: a statement built per row cost more
    # than the rest of the run's events together).
    statements = store._event_statements
    statements.many(conn, statements.upsert_recipe, [
        (run_key, part, encode_json(event.data.get("data", {})), event.seq)
        for (run_key, part), event in latest.items()], _RECIPE_COLUMNS)
    return []


_RECIPE_COLUMNS = ("run_id", "part", "data", "seq")


@applier(REPRODUCTION)
def _apply_reproductions(store: "SqlStore", conn: Connection, events: Sequence[Event]) -> list[str]:
    subjects = {e.subject for e in events} | {e.data["original"] for e in events if e.data.get("original")}
    runs = run_ids(conn, subjects)
    waiting = []
    for event in events:
        original = event.data.get("original")
        if event.subject not in runs:
            waiting.append((event.subject, event))
        elif original and original not in runs:
            waiting.append((original, event))
    _park(conn, waiting)
    table = t.reproductions
    for event in sorted((e for e in events if all(w is not e for _, w in waiting)), key=lambda e: e.seq):
        data, run_key = event.data, runs[event.subject]
        if data.get("original"):
            conn.execute(store._insert(table).values(
                run_id=run_key, original_run_id=runs[data["original"]], created_at=data.get("at") or time.time(),
            ).on_conflict_do_nothing(index_elements=["run_id"]))
        if data.get("verdict"):
            conn.execute(update(table).where(table.c.run_id == run_key).values(
                verdict=str(data["verdict"])[:40], details=encode_json(data.get("details") or {})))
    return []
