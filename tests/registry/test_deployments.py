"""Deployments: where each version serves, since and until when, with every change audited,
on SQLite and PostgreSQL."""
from __future__ import annotations

import time

import pytest

from modeldb_core.errors import NotFoundError, ValidationError
from modeldb_core.store import open_store

from .conftest import content, run_at_once


def _two_versions(store) -> None:
    store.register_model_version("pricing", content("a"), actor="alice")
    store.register_model_version("pricing", content("b"), actor="alice")


def _pause() -> float:
    """A moment strictly between what was recorded before and what is recorded after."""
    time.sleep(0.02)
    moment = time.time()
    time.sleep(0.02)
    return moment


def test_an_alias_is_resolved_when_deployed_and_the_version_kept(store):
    _two_versions(store)
    store.promote("models:/pricing/1", "production", actor="alice")
    first = store.record_deployment("models:/pricing@production", "prod", "alice",
                                    endpoint="https://ops:hunter2@serving.example/pricing", reason="release 1")
    store.promote("models:/pricing/2", "production", actor="alice")
    assert (first.version, first.requested, first.state, first.until) == (1, "models:/pricing@production",
                                                                            "deployed", None)
    assert first.endpoint == "https://ops:***@serving.example/pricing"  # never a password at rest
    # The alias moved since; the deployment still says version 1.
    assert [(d.version, d.environment) for d in store.deployments()] == [(1, "prod")]


def test_a_full_deployment_ends_the_previous_one_and_at_answers_what_served_then(store):
    _two_versions(store)
    first = store.record_deployment("models:/pricing/1", "prod", "alice")
    before = _pause()
    second = store.record_deployment("models:/pricing/2", "prod", "bob", reason="better rmse")
    after = _pause()
    assert [d.version for d in store.deployments(environment="prod", at=before)] == [1]
    assert [d.version for d in store.deployments(environment="prod", at=after)] == [2]
    assert store.deployments(environment="prod", at=first.since - 60) == []
    ended = store.get_deployment(first.id)
    assert ended.until == second.since and ended.state == "retired"
    assert ended.state_reason == f"replaced by deployment {second.id}"
    assert [(d.version, d.serving) for d in store.deployments(model="pricing", history=True)] == [
        (1, False), (2, True)]
    # Another environment and another model are left alone.
    store.record_deployment("models:/pricing/1", "staging", "alice")
    store.register_model_version("churn", content("c"), actor="alice")
    store.record_deployment("models:/churn/1", "prod", "alice")
    assert sorted((d.environment, d.model, d.version) for d in store.deployments()) == [
        ("prod", "churn", 1), ("prod", "pricing", 2), ("staging", "pricing", 1)]


def test_canaries_serve_beside_the_full_deployment_and_their_shares_are_bounded(store):
    _two_versions(store)
    store.register_model_version("pricing", content("c"), actor="alice")
    store.record_deployment("models:/pricing/1", "prod", "alice")
    canary = store.record_deployment("models:/pricing/2", "prod", "alice", traffic=0.1)
    store.record_deployment("models:/pricing/3", "prod", "alice", traffic=0.5)
    assert sorted((d.version, d.traffic) for d in store.deployments(environment="prod")) == [
        (1, None), (2, 0.1), (3, 0.5)]
    with pytest.raises(ValidationError) as refused:
        store.record_deployment("models:/pricing/3", "prod", "alice", traffic=0.95)
    assert refused.value.field == "traffic" and "0.1" in str(refused.value) and "1.05" in str(refused.value)
    # The canary made full replaces both the old full deployment and its own canary record.
    full = store.record_deployment("models:/pricing/2", "prod", "alice")
    assert sorted((d.version, d.traffic) for d in store.deployments(environment="prod")) == [(2, None), (3, 0.5)]
    assert store.get_deployment(canary.id).state_reason == f"replaced by deployment {full.id}"
    # Recording what already serves changes nothing (a CI job that deploys on every run).
    assert store.record_deployment("models:/pricing/2", "prod", "carol").id == full.id


@pytest.mark.parametrize("field, kwargs, problem", [
    ("traffic", {"traffic": 0}, "greater than 0 and at most 1"),
    ("traffic", {"traffic": 1.5}, "greater than 0 and at most 1"),
    ("traffic", {"traffic": float("nan")}, "greater than 0 and at most 1"),
    ("traffic", {"traffic": True}, "must be a number"),
    ("traffic", {"traffic": "10%"}, "must be a number"),
    ("environment", {"environment": ""}, "must not be empty"),
    ("environment", {"environment": "e" * 251}, "the limit is 250"),
    ("endpoint", {"endpoint": "x" * 2001}, "the limit is 2000"),
    ("model", {"ref": "s3://bucket/model.pkl"}, "is not a models:/ URI"),
])
def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(store, field, kwargs, problem):
    store.register_model_version("pricing", content("a"), actor="alice")
    args = {"ref": "models:/pricing/1", "environment": "prod", **kwargs}
    with pytest.raises(ValidationError) as refused:
        store.record_deployment(args.pop("ref"), args.pop("environment"), "alice", **args)
    assert refused.value.field == field and problem in str(refused.value)
    assert store.deployments(history=True) == []
    assert [e.action for e in store.audit_events()] == ["model.create", "version.register"]


def test_unknown_versions_and_aliases_are_not_found(store):
    store.register_model_version("pricing", content("a"), actor="alice")
    with pytest.raises(NotFoundError, match="models:/pricing/7"):
        store.record_deployment("models:/pricing/7", "prod", "alice")
    with pytest.raises(NotFoundError, match="points at no version"):
        store.record_deployment("models:/pricing@production", "prod", "alice")
    with pytest.raises(NotFoundError, match="nothing of it serves"):
        store.retire_deployment("models:/pricing", "alice", environment="prod")


def test_retire_and_degrade_are_audited_in_the_hash_chain(store):
    _two_versions(store)
    full = store.record_deployment("models:/pricing/1", "prod", "alice")
    store.record_deployment("models:/pricing/2", "prod", "alice", traffic=0.2)
    degraded = store.mark_degraded(full.id, "3 flagged batches in a row", "monitor")
    assert (degraded.state, degraded.state_reason, degraded.serving) == ("degraded", "3 flagged batches in a row",
                                                                         True)
    assert store.mark_degraded(full, "again", "monitor").state_changed_at == degraded.state_changed_at
    moment = _pause()
    retired = store.retire_deployment("models:/pricing/2", "bob", environment="prod", reason="canary lost")
    assert [(d.version, d.state) for d in retired] == [(2, "retired")]
    assert [d.version for d in store.deployments(environment="prod")] == [1]
    assert [d.version for d in store.deployments(environment="prod", at=moment)] == [1, 2]
    store.retire_deployment(full.id, "bob", reason="decommissioned")
    assert store.deployments() == []
    with pytest.raises(ValidationError, match="only a serving deployment"):
        store.mark_degraded(full.id, "late", "monitor")
    events = [(e.action, e.actor, e.subject) for e in store.audit_events("models:/pricing")
              if e.action.startswith("deployment.")]
    # Subjects name the model with its project (the default one: registered without a run).
    assert events == [("deployment.record", "alice", "models:/default/pricing/1"),
                      ("deployment.record", "alice", "models:/default/pricing/2"),
                      ("deployment.degrade", "monitor", "models:/default/pricing/1"),
                      ("deployment.retire", "bob", "models:/default/pricing/2"),
                      ("deployment.retire", "bob", "models:/default/pricing/1")]
    check = store.verify_audit()
    assert check.ok and check.checked == 8


DEPLOY = """
from modeldb_core.store import open_store
store = open_store(argv[0])
for i in range(4):
    if i % 2:  # the canary (version 4) beside whichever version serves
        store.record_deployment("models:/pricing/4", "prod", f"worker{worker}", traffic=0.01 * (worker + 1))
    else:
        store.record_deployment(f"models:/pricing/{(worker + i) % 3 + 1}", "prod", f"worker{worker}")
"""


def test_eight_processes_deploying_at_once_leave_one_full_deployment_and_an_unbroken_chain(store_uri):
    store = open_store(store_uri)
    for label in "abcd":
        store.register_model_version("pricing", content(label), actor="alice")
    run_at_once(DEPLOY, store_uri)
    serving = store.deployments(environment="prod")
    assert len([d for d in serving if d.traffic is None]) == 1
    assert [d.version for d in serving if d.traffic is not None] == [4]  # one canary record, the last
    history = store.deployments(history=True)
    # Every record but the serving ones was ended by the one after it, and no two full ones overlap.
    full = [d for d in history if d.traffic is None]
    assert all(a.until is not None and a.until <= b.since + 1e-6 for a, b in zip(full, full[1:]))
    assert store.verify_audit().ok
    store.close()


def test_the_python_api_links_the_active_run_and_reads_iso_times(tracking, trained):
    import modeldb_core as mdb

    store = tracking.store
    store.register_model_version("pricing", content("a"), actor="alice")
    with mdb.start_run("deploy", project="pricing", phase="deployment") as run:
        deployment = mdb.record_deployment("models:/pricing/1", "prod", endpoint="svc/pricing", reason="go")
    assert deployment.run_id == run.id
    detail = tracking.store.get_run_detail(run.id)
    assert [(o.name, o.artifact.uri) for o in detail.inputs] == [("model", "file:///models/a.pkl")]
    from datetime import datetime, timezone

    now = datetime.now(timezone.utc)
    assert [d.id for d in mdb.deployments(environment="prod", at=now.isoformat())] == [deployment.id]
    assert [d.id for d in mdb.deployments(model="pricing", at=now)] == [deployment.id]
    assert mdb.deployments(at="2001-01-01") == []
    with pytest.raises(ValidationError) as refused:
        mdb.deployments(at="yesterday")
    assert refused.value.field == "at"
    retired = mdb.retire_deployment(deployment, reason="done")
    assert [d.state for d in retired] == ["retired"]
    assert mdb.mark_degraded is not None and isinstance(deployment, mdb.Deployment)


def test_mark_degraded_is_the_declared_entry_point_for_monitoring(tracking, monkeypatch):
    import modeldb_core as mdb

    monkeypatch.setenv("MODELDB_IDENTITY", "ops")
    mdb.configure(uri=tracking.settings.uri)
    tracking = mdb.get_client()
    tracking.store.register_model_version("pricing", content("a"), actor="alice")
    deployment = mdb.record_deployment("models:/pricing/1", "prod")
    assert deployment.actor == "ops"
    degraded = mdb.mark_degraded(deployment, "3 flagged batches in a row", actor="drift-monitor")
    assert (degraded.state, degraded.serving) == ("degraded", True)
    restored = tracking.store.restore_deployment(deployment.id, "retrained", "ops")
    assert restored.state == "deployed"
    assert [(e.action, e.actor, e.reason) for e in tracking.store.audit_events("models:/pricing")][-2:] == [
        ("deployment.degrade", "drift-monitor", "3 flagged batches in a row"), ("deployment.restore", "ops", "retrained")]
    assert mdb.mark_degraded(deployment).state == "degraded" and tracking.store.audit_events()[-1].actor == "ops"


def test_restore_deployment_needs_a_reason_and_is_audited_as_the_identity(tracking, monkeypatch):
    import modeldb_core as mdb

    monkeypatch.setenv("MODELDB_IDENTITY", "on-call")
    mdb.configure(uri=tracking.settings.uri)
    store = mdb.get_client().store
    store.register_model_version("pricing", content("a"), actor="alice")
    deployment = mdb.record_deployment("models:/pricing/1", "prod")
    mdb.mark_degraded(deployment, "3 flagged batches in a row", actor="drift-monitor")
    for reason in (None, "", "  "):
        with pytest.raises(ValidationError) as refused:
            mdb.restore_deployment(deployment, reason)
        assert refused.value.field == "reason"
    assert store.get_deployment(deployment.id).state == "degraded"
    restored = mdb.restore_deployment(deployment, "the shift was a holiday")
    assert (restored.state, restored.state_reason, restored.serving) == ("deployed", "the shift was a holiday", True)
    event = store.audit_events("models:/pricing")[-1]
    assert (event.action, event.actor, event.reason) == ("deployment.restore", "on-call", "the shift was a holiday")
    assert event.before["state"] == "degraded" and event.after["state"] == "deployed"
    assert store.verify_audit().ok
