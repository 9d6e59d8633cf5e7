"""Deployments recorded through the tracking runtime (``ActiveRun.record_deployment``): applied by the
store idempotently and in any order, on SQLite and PostgreSQL."""
from __future__ import annotations

import logging
import time

import pytest

import modeldb_core as mdb
from modeldb_core import events as ev
from modeldb_core.errors import ValidationError
from modeldb_core.events import Event

from .conftest import content


def _start(run: str, seq: int = 1) -> Event:
    return Event(ev.STARTED, run, seq, {
        "project": "pricing", "name": "deploy", "phase": "deployment", "started_at": time.time(),
        "pipeline_run": None, "parent": None, "orchestrator": None, "external_id": None, "try_number": None,
        "params": {}, "tags": {}, "env": None, "code": None})


def _deployed(run: str, model: str | None, environment: str = "prod", at: float | None = None,
              seq: int = 2, **fields) -> Event:
    return Event(ev.DEPLOYMENT_RECORDED, run, seq, {
        "uuid": ev.uuid7(), "model": model, "environment": environment, "endpoint": fields.get("endpoint"),
        "traffic": fields.get("traffic"), "reason": fields.get("reason"), "actor": "ci",
        "at": time.time() if at is None else at})


def test_applied_twice_or_before_its_run_it_is_one_deployment_linked_to_the_run(store):
    store.register_model_version("pricing", content("a"), actor="alice")
    store.promote("models:/pricing/1", "production", actor="alice")
    run = ev.uuid7()
    deployed = _deployed(run, "models:/pricing@production", endpoint="svc")
    store.apply_events([deployed], {})  # before its run: it waits
    assert store.deployments() == []
    store.apply_events([_start(run)], {})
    store.apply_events([deployed], {})  # delivered again
    [d] = store.deployments(history=True)
    assert (d.version, d.run_id, d.uuid, d.actor, d.endpoint) == (1, run, deployed.data["uuid"], "ci", "svc")
    assert store.get_deployment(deployed.data["uuid"]).id == d.id
    assert [i.name for i in store.get_run_detail(run).inputs] == ["model"]
    assert [e.action for e in store.audit_events()].count("deployment.record") == 1
    assert store.verify_audit().ok


def test_the_alias_is_resolved_as_it_was_when_the_task_recorded_it(store):
    for label in "ab":
        store.register_model_version("pricing", content(label), actor="alice")
    store.promote("models:/pricing/1", "production", actor="alice")
    run = ev.uuid7()
    asked = _deployed(run, "models:/pricing@production")
    time.sleep(0.02)
    store.promote("models:/pricing/2", "production", actor="alice")  # moved before the event arrives
    store.apply_events([_start(run), asked], {})
    assert [d.version for d in store.deployments()] == [1]


def test_one_arriving_after_a_later_deployment_is_kept_as_history(store):
    for label in "ab":
        store.register_model_version("pricing", content(label), actor="alice")
    run = ev.uuid7()
    early = _deployed(run, "models:/pricing/1", at=time.time() - 60)
    newer = store.record_deployment("models:/pricing/2", "prod", "alice")
    store.apply_events([_start(run), early], {})
    assert [d.version for d in store.deployments()] == [2]
    old = store.get_deployment(early.data["uuid"])
    assert (old.until, old.state, old.state_reason) == (newer.since, "retired", f"replaced by deployment {newer.id}")
    assert [d.version for d in store.deployments(at=early.data["at"] + 1)] == [1]


def test_one_naming_no_version_is_dropped_and_the_run_is_kept(store, caplog):
    store.register_model_version("pricing", content("a"), actor="alice")
    run = ev.uuid7()
    with caplog.at_level(logging.WARNING, logger="modeldb"):
        store.apply_events([_start(run), _deployed(run, "models:/pricing@production"),
                            _deployed(run, "models:/pricing/1", environment="staging", seq=3)], {})
    assert "models:/pricing@production" in caplog.text and "points at no version" in caplog.text
    assert store.get_run(run).phase == "deployment"
    assert [(d.environment, d.version) for d in store.deployments()] == [("staging", 1)]


@mdb.tracked_task(project="pricing", phase="deployment")
def deploy_quietly(model: str) -> str:
    return mdb.active_run().record_deployment(model, "prod", traffic=0.2, reason="canary")


def test_a_tracked_task_records_through_the_runtime_and_never_waits(tracking):
    tracking.store.register_model_version("pricing", content("a"), actor="alice")
    tracking.store.promote("models:/pricing/1", "production", actor="alice")
    uuid = deploy_quietly("models:/pricing@production")
    mdb.flush()
    d = tracking.store.get_deployment(uuid)
    assert (d.version, d.traffic, d.reason, d.requested) == (1, 0.2, "canary", "models:/pricing@production")
    assert tracking.store.get_run(d.run_id).phase == "deployment"
    with pytest.raises(ValidationError) as refused:
        deploy_quietly("s3://bucket/model.pkl")  # bad input is the caller's to hear, at once
    assert refused.value.field == "model"
