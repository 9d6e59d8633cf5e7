"""Aliases with their whole history, time travel, and the hash-chained audit log, on both databases."""
from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from modeldb_core.errors import NotFoundError, ValidationError
from modeldb_core.store import open_store

from .conftest import content, run_at_once


def test_every_alias_move_is_kept_and_at_answers_what_it_was_then(store):
    for label in "abc":
        store.register_model_version("pricing", content(label), actor="alice")
    store.promote("models:/pricing/1", "production", actor="alice", reason="first release")
    time.sleep(0.05)
    between = time.time()
    time.sleep(0.05)
    store.promote("models:/pricing/3", "production", actor="bob", reason="better")
    assert store.resolve_model("models:/pricing@production").version == 3
    assert store.resolve_model("models:/pricing@production", at=between).version == 1
    with pytest.raises(NotFoundError, match="points at no version"):
        store.resolve_model("models:/pricing@production", at=between - 3600)
    moves = store.alias_history("pricing", "production")
    assert [(m.from_version, m.to_version, m.actor, m.reason) for m in moves] == [
        (None, 1, "alice", "first release"), (1, 3, "bob", "better")]
    assert store.get_model("pricing").aliases == {"production": 3}
    assert store.resolve_model("models:/pricing/3").aliases == ["production"]


def test_an_alias_names_a_version_of_its_own_model_only(store):
    store.register_model_version("pricing", content("a"), actor="alice")
    store.register_model_version("churn", content("b"), actor="alice")
    with pytest.raises(NotFoundError, match="models:/churn/2"):
        store.promote("models:/churn/2", "production", actor="alice")
    assert store.alias_history("churn") == []


def test_audit_log_names_who_did_what_and_verifies(store):
    store.register_model_version("pricing", content("a"), actor="alice")
    store.approve("models:/pricing/1", "production", actor="carol", reason="reviewed")
    store.promote("models:/pricing/1", "production", actor="alice", reason="go")
    events = store.audit_events("models:/pricing")
    # Subjects name the model with its project (the default one: registered without a run).
    assert [(e.action, e.actor, e.subject) for e in events] == [
        ("model.create", "alice", "models:/default/pricing"),
        ("version.register", "alice", "models:/default/pricing/1"),
        ("version.approve", "carol", "models:/default/pricing/1"),
        ("alias.move", "alice", "models:/default/pricing@production")]
    assert events[3].before == {"version": None} and events[3].after["version"] == 1
    assert all(later.prev_hash == earlier.hash for earlier, later in zip(events, events[1:]))
    check = store.verify_audit()
    assert check.ok and check.checked == 4


def _raw(store_uri: str, sql: str) -> None:
    engine = sa.create_engine(store_uri)
    with engine.begin() as conn:
        conn.execute(sa.text(sql))
    engine.dispose()


def test_an_edited_audit_row_breaks_the_chain_at_that_row(store_uri):
    store = open_store(store_uri)
    for label in "abc":
        store.register_model_version("pricing", content(label), actor="alice")
    _raw(store_uri, "UPDATE audit_events SET actor = 'mallory' WHERE id = 3")
    check = store.verify_audit()
    assert not check.ok and check.broken_at == 3 and "edited" in check.problem
    store.close()


def test_a_deleted_audit_row_breaks_the_chain_at_the_next_one(store_uri):
    store = open_store(store_uri)
    for label in "abc":
        store.register_model_version("pricing", content(label), actor="alice")
    _raw(store_uri, "DELETE FROM audit_events WHERE id = 2")
    check = store.verify_audit()
    assert not check.ok and check.broken_at == 3 and "deleted" in check.problem
    store.close()


MOVE = """
from modeldb_core.store import open_store
store = open_store(argv[0])
for i in range(3):
    store.promote(f"models:/pricing/{(worker + i) % 4 + 1}", "production", actor=f"worker{worker}", reason=f"move {i}")
"""


def test_eight_processes_moving_one_alias_leave_one_holder_and_every_move_audited(store_uri):
    store = open_store(store_uri)
    for label in "abcd":
        store.register_model_version("pricing", content(label), actor="alice")
    run_at_once(MOVE, store_uri)
    moves = store.alias_history("pricing", "production")
    assert len(moves) == 24
    assert moves[0].from_version is None
    assert all(later.from_version == earlier.to_version for earlier, later in zip(moves, moves[1:]))
    assert store.resolve_model("models:/pricing@production").version == moves[-1].to_version
    assert len([e for e in store.audit_events() if e.action == "alias.move"]) == 24
    assert store.verify_audit().ok
    store.close()


def test_force_needs_a_reason(store):
    store.register_model_version("pricing", content("a"), actor="alice")
    with pytest.raises(ValidationError, match="--force needs a reason"):
        store.promote("models:/pricing/1", "production", actor="alice", force=True)
    assert store.alias_history("pricing") == []
