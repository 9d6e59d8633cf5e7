"""Model names are unique per project: two projects each keep their own ``pricing``, a bare
name several projects hold is refused naming them, and revision 0011 upgrades a store that
held models when names were unique in the whole store. SQLite and PostgreSQL."""
from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from modeldb_core.errors import AmbiguousModelError, NotFoundError
from modeldb_core.model import NewRun
from modeldb_core.registry import audit
from modeldb_core.store import migrate, open_store

from .conftest import content
from .test_cli import invoke


def _run(store, project: str) -> str:
    now = time.time()
    return store.create_runs([NewRun(project=project, name="train", started_at=now, phase="training",
                                     status="succeeded", ended_at=now)])[0]


def _two_pricings(store):
    risk = store.register_model_version("pricing", content("risk-1"), "alice", run=_run(store, "risk"))
    sales = store.register_model_version("pricing", content("sales-1"), "bob", run=_run(store, "sales"))
    store.register_model_version("pricing", content("sales-2"), "bob", run=_run(store, "sales"))
    return risk, sales


def test_two_projects_each_register_pricing_and_resolve_their_own(store):
    risk, sales = _two_pricings(store)
    assert (risk.project, risk.version, sales.project, sales.version) == ("risk", 1, "sales", 1)
    assert store.resolve_model("models:/risk/pricing/1").content_hash == content("risk-1").content_hash
    assert store.resolve_model("models:/sales/pricing").version == 2  # its own newest
    assert store.get_model("pricing", project="sales").latest_version == 2
    assert [v.version for v in store.model_versions("models:/risk/pricing")] == [1]
    store.promote("models:/risk/pricing/1", "production", "alice")
    store.promote("models:/sales/pricing/2", "production", "bob")
    assert store.resolve_model("models:/risk/pricing@production").content_hash == content("risk-1").content_hash
    assert store.resolve_model("models:/sales/pricing@production").version == 2
    assert [(m.project, m.aliases) for m in store.list_models()] == [("risk", {"production": 1}),
                                                                      ("sales", {"production": 2})]
    # Each model's audit events are its own, and name its project; the chain holds.
    assert {e.subject for e in store.audit_events("models:/risk/pricing")} == {
        "models:/risk/pricing", "models:/risk/pricing/1", "models:/risk/pricing@production"}
    assert store.verify_audit().ok


@pytest.mark.parametrize("call", [
    lambda s: s.resolve_model("models:/pricing@production"),
    lambda s: s.resolve_model("models:/pricing/1"),
    lambda s: s.get_model("pricing"),
    lambda s: s.promote("pricing/1", "staging", "alice"),
    lambda s: s.audit_events("models:/pricing"),
    lambda s: s.record_deployment("models:/pricing/1", "prod", "alice"),
    lambda s: s.register_model_version("pricing", content("no-run"), "alice"),
])
def test_the_bare_name_is_refused_naming_both_projects(store, call):
    _two_pricings(store)
    store.promote("models:/risk/pricing/1", "production", "alice")  # only one of them has the alias
    events = len(store.audit_events(limit=None))
    with pytest.raises(AmbiguousModelError) as caught:
        call(store)
    message = str(caught.value)
    assert "'risk'" in message and "'sales'" in message and "models:/risk/pricing" in message
    assert len(store.audit_events(limit=None)) == events  # nothing written
    assert store.find_artifact_versions(content("no-run").uri) == []  # not the refused version's file


def test_a_name_one_project_holds_stays_valid_bare(store):
    store.register_model_version("pricing", content("a"), "alice", run=_run(store, "risk"))
    store.promote("models:/pricing/1", "production", "alice")
    assert store.resolve_model("models:/pricing@production").project == "risk"
    # Without a run or project, a registration goes to the one project holding the name.
    assert store.register_model_version("pricing", content("b"), "alice").project == "risk"
    with pytest.raises(NotFoundError, match="sales/pricing"):
        store.resolve_model("models:/sales/pricing/1")


def test_cli_project_option_and_the_ambiguity_message(store_uri, tmp_path):
    model = tmp_path / "model.pkl"
    model.write_bytes(b"a model")
    for project in ("risk", "sales"):
        invoke(store_uri, "models", "register", "pricing", "--artifact", str(model), "--project", project)
    refused = invoke(store_uri, "models", "promote", "pricing/1", "production", code=1)
    assert "2 projects have a model named 'pricing' ('risk', 'sales')" in refused.output
    assert "Traceback" not in refused.output
    moved = invoke(store_uri, "models", "promote", "pricing/1", "production", "--project", "sales")
    assert "models:/sales/pricing@production now v1" in moved.output  # which of the two moved
    history = invoke(store_uri, "models", "history", "pricing", "--project", "sales", "--json").output
    assert '"uri": "models:/sales/pricing@production"' in history
    approved = invoke(store_uri, "models", "approve", "pricing/1", "staging", "--project", "risk")
    assert "approved models:/risk/pricing/1 for 'staging'" in approved.output
    shown = invoke(store_uri, "models", "show", "models:/sales/pricing@production", "--json")
    assert '"version": 1' in shown.output
    listed = invoke(store_uri, "audit", "list", "--model", "pricing", "--project", "risk", "--json").output
    assert "models:/risk/pricing" in listed and "models:/sales/pricing" not in listed


def _unqualify_chain(store_uri: str, project: str) -> None:
    """Rewrite the audit log as revision 0010 wrote it: subjects without the project, hashes
    chained again over them (what a store from before 0011 holds)."""
    engine = sa.create_engine(store_uri)
    with engine.begin() as conn:
        rows = conn.execute(sa.text("SELECT id, at, actor, action, subject, before, after, reason "
                                    "FROM audit_events ORDER BY id")).all()
        prev = audit.GENESIS
        for r in rows:
            subject = r.subject.replace(f"models:/{project}/", "models:/")
            digest = audit.link_hash(prev, r.at, r.actor, r.action, subject, r.before, r.after, r.reason)
            conn.execute(sa.text("UPDATE audit_events SET subject = :s, prev_hash = :p, hash = :h WHERE id = :i"),
                         {"s": subject, "p": prev, "h": digest, "i": r.id})
            prev = digest
    engine.dispose()


def test_migration_0011_upgrades_a_store_holding_models(store_uri):
    from alembic import command

    store = open_store(store_uri)
    trained = _run(store, "risk")
    store.register_model_version("pricing", content("v1"), "alice", run=trained)
    store.register_model_version("pricing", content("v2"), "alice")
    store.promote("models:/pricing/1", "production", "alice", reason="first")
    store.promote("models:/pricing/2", "production", "alice", reason="better")
    store.register_model_version("churn", content("c1"), "bob")
    with store.engine.begin() as conn:
        command.downgrade(migrate._alembic_config(conn), "0010")
    store.close()
    # As 0010 kept them: no project for a model registered without a run, subjects without projects.
    engine = sa.create_engine(store_uri)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE registered_models SET project_id = NULL"))
    engine.dispose()
    _unqualify_chain(store_uri, "risk")
    _unqualify_chain(store_uri, "default")

    old = open_store(store_uri, check_schema=False)
    assert old.upgrade() == migrate.HEAD
    old.close()
    store = open_store(store_uri)
    models = {m.name: m for m in store.list_models()}
    # pricing: its first version's run's project; churn (no run): the default project.
    assert (models["pricing"].project, models["churn"].project) == ("risk", "default")
    assert models["pricing"].aliases == {"production": 2} and models["pricing"].latest_version == 2
    assert [(m.from_version, m.to_version) for m in store.alias_history("pricing")] == [(None, 1), (1, 2)]
    assert store.resolve_model("models:/pricing@production").content_hash == content("v2").content_hash
    assert store.verify_audit().ok  # no hash changed
    before = [e.id for e in store.audit_events("models:/pricing")]
    assert len(before) == 5 and all(not e.subject.startswith("models:/risk/")
                                    for e in store.audit_events("models:/pricing"))
    # Another project may now hold the name; the old events stay with the model they were about.
    store.register_model_version("pricing", content("s1"), "bob", run=_run(store, "sales"))
    assert [e.id for e in store.audit_events("models:/risk/pricing")][:5] == before
    assert len(store.audit_events("models:/sales/pricing")) == 2
    with pytest.raises(AmbiguousModelError):
        store.resolve_model("models:/pricing@production")
    assert store.resolve_model("models:/risk/pricing@production").version == 2
    assert store.verify_audit().ok
    store.close()
