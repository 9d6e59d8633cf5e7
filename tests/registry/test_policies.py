"""Promotion policies evaluated on real tracked runs: refusals name the rule and the numbers."""
from __future__ import annotations

import pytest

import modeldb_core as mdb
from modeldb_core import registry
from modeldb_core.errors import PromotionRefusedError, ValidationError

from .conftest import content


@pytest.fixture
def identity(monkeypatch):
    monkeypatch.setenv("MODELDB_IDENTITY", "alice@bank")


def test_threshold_and_beat_the_holder_refuse_with_both_numbers(identity, tracking, trained):
    v1 = mdb.register_model("pricing", run=trained(28.0), artifact=content("a"))
    v2 = mdb.register_model("pricing", run=trained(29.5), artifact=content("b"))
    v3 = mdb.register_model("pricing", run=trained(35.0), artifact=content("c"))
    registry.set_policy("pricing", "production", {"thresholds": ["rmse <= 30"],
                                                  "beat_holder": {"metric": "rmse", "goal": "min"}})
    registry.promote(v1.uri, "production")
    with pytest.raises(PromotionRefusedError) as refused:
        registry.promote(v2.uri, "production")
    message = str(refused.value)
    assert "beat the holder on rmse" in message and "29.5" in message and "28" in message
    with pytest.raises(PromotionRefusedError, match=r"threshold rmse <= 30.*rmse = 35"):
        registry.promote(v3.uri, "production")
    assert mdb.resolve_model("models:/pricing@production").version == 1
    moved = registry.promote(v3.uri, "production", force=True, reason="hotfix, signed off by risk")
    assert moved.forced and moved.evidence["verdicts"][0]["value"] == 35.0
    last = mdb.get_client().store.audit_events("models:/pricing")[-1]
    assert (last.action, last.actor, last.reason) == ("alias.force", "alice@bank", "hotfix, signed off by risk")


def test_approvals_from_named_approvers(identity, tracking, trained, monkeypatch):
    v1 = mdb.register_model("pricing", run=trained(20.0), artifact=content("a"))
    registry.set_policy("pricing", "production", {"approvals": {"count": 1, "approvers": ["risk-officer"]}})
    registry.approve(v1.uri, "production")  # alice@bank may not approve
    with pytest.raises(PromotionRefusedError, match="0 approval"):
        registry.promote(v1.uri, "production")
    monkeypatch.setenv("MODELDB_IDENTITY", "risk-officer")
    mdb.configure(uri=tracking.settings.uri)
    registry.approve(v1.uri, "production", reason="model review MR-12")
    move = registry.promote(v1.uri, "production")
    assert move.evidence["approvals"] == ["alice@bank", "risk-officer"]
    assert move.actor == "risk-officer"


def test_required_evaluation_on_a_named_data_set(identity, tracking, trained, tmp_path):
    model_file = tmp_path / "model.pkl"
    model_file.write_bytes(b"model")
    with mdb.start_run("train", project="pricing", phase="training") as run:
        run.log_metric("rmse", 30.0)
        run.log_output(model_file, name="model")
    version = mdb.register_model("pricing", run=run)
    registry.set_policy("pricing", "production", {"evaluation": {"dataset": "file:///data/holdout.csv"},
                                                  "thresholds": ["rmse <= 25"]})
    with pytest.raises(PromotionRefusedError, match="evaluation on file:///data/holdout.csv"):
        registry.promote(version.uri, "production")
    with mdb.start_run("evaluate", project="pricing", phase="evaluation") as evaluation:
        evaluation.log_input(model_file)
        evaluation.log_input("file:///data/holdout.csv")
        evaluation.log_metric("rmse", 24.0)
    move = registry.promote(version.uri, "production")
    assert move.evidence["evaluation_runs"] == [evaluation.id]
    assert move.evidence["metrics"]["rmse"] == 24.0  # measured on the named data set


def test_a_policy_naming_an_unknown_metric_is_refused(identity, tracking, trained):
    mdb.register_model("pricing", run=trained(20.0), artifact=content("a"))
    with pytest.raises(ValidationError, match=r"not a metric any run has logged \(got 'auc'\)"):
        registry.set_policy("pricing", "production", {"thresholds": ["auc >= 0.8"]})
    with pytest.raises(ValidationError, match="'rmse =< 3'"):
        registry.set_policy("pricing", "production", {"thresholds": ["rmse =< 3"]})
    assert mdb.get_client().store.policies("pricing") == {}


def test_load_model_checks_the_content_hash_before_unpickling(identity, tracking, tmp_path):
    import pickle

    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"coef": [1.0, 2.0]}))
    version = mdb.register_model("pricing", artifact=path)
    assert mdb.load_model(version.uri) == {"coef": [1.0, 2.0]}
    path.write_bytes(pickle.dumps({"coef": [6.6]}))
    with pytest.raises(mdb.ModelDBError, match="changed since it was registered"):
        mdb.load_model("models:/pricing/1")
