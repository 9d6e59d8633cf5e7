"""``mdb.monitor``: monitoring runs of a registered model, their drift, bad input, status and degradation."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import modeldb_core as mdb
from modeldb_core.monitoring.reference import load_profile
from modeldb_core.monitoring.status import (
    DegradationRule,
    deployment_degraded,
    history,
    is_degraded,
    latest_states,
)

FEATURES = ["area", "age", "floor", "distance"]


def _data(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, len(FEATURES))), columns=FEATURES)
    frame["area"] += shift
    frame["district"] = rng.choice(["north", "south", "east", "west"], size=rows, p=[0.4, 0.3, 0.2, 0.1])
    return frame


def _train_pricing(train: pd.DataFrame):
    """A real scikit-learn model fitted under autolog, which registers it as the next version of
    ``pricing`` (in the current run's project); the model."""
    from sklearn.linear_model import Ridge

    from modeldb_core.sklearn import autolog

    autolog(register_model="pricing")
    try:
        return Ridge().fit(train[FEATURES], train["area"] * 3 + train["age"])
    finally:
        autolog(disable=True)


@pytest.fixture
def pricing(tracking):
    """``pricing`` version 1; the model."""
    model = _train_pricing(_data(5000, seed=1))
    mdb.flush()
    return model


def test_unchanged_and_shifted_batches_give_monitoring_runs_with_drift_metrics(tracking, pricing):
    batch = _data(2000, seed=2)[FEATURES]
    labels = batch["area"] * 3 + batch["age"]
    calm = mdb.monitor("models:/pricing/1", batch=batch, predictions=pricing.predict(batch), labels=labels,
                       deployment="prod")
    assert calm.error is None and calm.flagged is False and calm.flagged_features == []
    assert (calm.model, calm.version) == ("pricing", 1)
    shifted = _data(2000, seed=3, shift=0.5)[FEATURES]
    drifted = mdb.monitor("models:/pricing/1", batch=shifted, predictions=pricing.predict(shifted),
                          deployment="prod")
    assert drifted.flagged is True and drifted.flagged_features == ["area"]
    mdb.flush()
    runs = mdb.search_runs('phase = "monitoring"', order_by="started").runs
    assert [r.id for r in runs] == [calm.run_id, drifted.run_id]
    first, second = runs
    assert first.tags["modeldb.deployment"] == "prod" and first.tags["modeldb.monitor.version"] == "1"
    assert first.metrics["drift.flagged"] == 0 and second.metrics["drift.flagged"] == 1
    assert second.metrics["drift.ks.area"] > 0.1 and second.metrics["drift.psi.area"] > \
        second.metrics["drift.psi_threshold.area"]
    assert {"drift.p.age", "drift.psi.floor", "prediction.mean", "prediction.std"} <= set(first.metrics)
    # with labels: the metrics the training run computed, under the same names
    training = mdb.search_runs('phase = "training"').runs[0]
    assert {"training_r2_score", "training_mean_squared_error"} <= set(training.metrics)
    assert first.metrics["r2_score"] > 0.99 and "mean_squared_error" in first.metrics
    # the drift report keeps, per feature, the method, the sample sizes and the threshold used
    report = json.loads(tracking.store.get_run_detail(second.id).tags["modeldb.monitor.drift"] and
                        _blob(tracking, second.tags["modeldb.monitor.drift"]))
    area = next(f for f in report["features"] if f["feature"] == "area")
    assert (area["method"], area["n"], area["flagged"]) == ("ks", 2000, True)
    assert area["threshold"] < area["statistic"] and area["n_reference"] > 100
    # the batch profile is kept too, and the batch is an input (what the model scored)
    assert load_profile(second.tags["modeldb.profile.batch"])["rows"] == 2000
    assert [i.name for i in tracking.store.get_run_detail(second.id).inputs] == ["batch"]


def test_a_monitoring_run_nests_under_the_task_that_monitors(tracking, pricing):
    @mdb.tracked_task(name="score_batch")
    def score(batch):
        return mdb.monitor("models:/pricing/1", batch=batch, predictions=pricing.predict(batch)).run_id

    run_id = score(_data(200, seed=9)[FEATURES])
    mdb.flush()
    task = mdb.search_runs('name = "score_batch"').runs[0]
    assert tracking.store.get_run(run_id).parent_run_id == task.id


def _blob(tracking, content_hash: str) -> str:
    from modeldb_core.artifact_store import ArtifactStore

    with ArtifactStore(tracking.settings.artifacts).open(content_hash) as fh:
        return fh.read().decode()


def test_the_same_batch_gives_the_same_drift_results(tracking, pricing):
    batch = _data(300, seed=4)
    first = mdb.monitor("models:/pricing/1", batch=batch)
    again = mdb.monitor("models:/pricing/1", batch=batch)
    assert first.drift.to_dict() == again.drift.to_dict()


def test_an_array_batch_is_read_in_the_training_columns_order(tracking, pricing):
    shifted = _data(1000, seed=12, shift=0.8)[FEATURES].to_numpy()
    result = mdb.monitor("models:/pricing/1", batch=shifted)
    assert result.problems == [] and result.flagged_features == ["area"]


def test_bad_batches_get_a_clear_result_naming_the_columns_not_a_crash(tracking, pricing):
    batch = _data(500, seed=5)[FEATURES]
    batch = batch.drop(columns=["floor"]).assign(colour="red", age=batch["age"].astype(str))
    result = mdb.monitor("models:/pricing/1", batch=batch)
    assert result.error is None and result.flagged is True
    assert result.drift.missing_columns == ["floor"] and result.drift.extra_columns == ["colour"]
    assert list(result.drift.type_changed) == ["age"]
    assert any("floor" in p for p in result.problems) and any("age: numeric" in p for p in result.problems)

    empty = mdb.monitor("models:/pricing/1", batch=_data(10, seed=6)[FEATURES].iloc[:0])
    assert empty.error is None and empty.flagged is False and "the batch is empty" in empty.problems[0]

    nulls = _data(500, seed=7)[FEATURES].copy()
    nulls["distance"] = np.nan
    nulls.loc[:9, "age"] = np.inf
    nulls.loc[10:19, "age"] = np.nan
    judged = mdb.monitor("models:/pricing/1", batch=nulls)
    assert judged.error is None and judged.flagged is True
    by_name = {f.feature: f for f in judged.drift.features}
    assert by_name["distance"].method == "missing-only" and by_name["distance"].flagged
    assert "no finite values in the batch" in by_name["distance"].reasons
    assert by_name["age"].flagged and by_name["age"].missing_share == pytest.approx(20 / 500)
    assert not by_name["floor"].flagged
    # an all-null column read as another type (object None for a float column) is not a type change
    untyped = _data(200, seed=14)[FEATURES].astype({"floor": object})
    untyped["floor"] = None
    result = mdb.monitor("models:/pricing/1", batch=untyped)
    assert result.drift.type_changed == {} and "floor" in result.flagged_features
    mdb.flush()
    problems = mdb.search_runs('phase = "monitoring"', order_by="started").runs[0].tags["modeldb.monitor.problems"]
    assert "floor" in problems and "colour" in problems


def test_monitor_never_raises_into_serving_code(tracking, pricing):
    unknown = mdb.monitor("models:/nobody/1", batch=_data(10, seed=8))
    assert unknown.flagged is False and "nobody" in unknown.error
    odd = mdb.monitor("models:/pricing/1", batch={"not": "a frame"})
    assert odd.error is not None and "cannot profile" in odd.error
    mdb.flush()
    failed = mdb.search_runs('phase = "monitoring"').runs
    assert [r.status for r in failed] == ["failed"]


def test_status_and_the_degradation_rule(tracking, pricing):
    assert is_degraded([True, True, True, False], DegradationRule(3))
    assert not is_degraded([True, True, False, True], DegradationRule(3))
    assert not is_degraded([True, True], DegradationRule(3))
    for seed in range(2):
        mdb.monitor("models:/pricing/1", batch=_data(400, seed=11 + seed), deployment="prod")
    answers = [mdb.monitor("models:/pricing/1", batch=_data(400, seed=20 + seed, shift=1.0), deployment="prod",
                           ).degraded for seed in range(3)]
    assert answers == [False, False, True]  # where the deployments part marks it degraded
    mdb.monitor("models:/pricing/1", batch=_data(400, seed=30), deployment="staging")
    mdb.flush()
    states = {s.deployment: s for s in latest_states(tracking.store, "pricing", rule=DegradationRule(3))}
    assert (states["prod"].batches, states["prod"].flagged_in_a_row, states["prod"].degraded) == (5, 3, True)
    assert states["prod"].top_drift[0][0] == "area"
    assert (states["staging"].flagged, states["staging"].degraded) == (False, False)
    assert deployment_degraded(tracking.store, "prod", rule=DegradationRule(3))
    assert not deployment_degraded(tracking.store, "prod", latest_flagged=False, rule=DegradationRule(3))
    assert [h["flagged"] for h in history(tracking.store, "pricing")] == [False, False, True, True, True, False]


def test_a_training_profile_missing_from_this_hosts_artifact_store_is_a_problem_not_an_error(tracking, pricing):
    from modeldb_core.artifact_store import ArtifactStore
    from modeldb_core.monitoring.reference import profile_tags

    training = mdb.search_runs('phase = "training"').runs[0]
    profile_hash = profile_tags(training.tags)["X_train"]
    ArtifactStore(tracking.settings.artifacts).path(profile_hash).unlink()
    batch = _data(300, seed=13)[FEATURES]
    result = mdb.monitor("models:/pricing/1", batch=batch, predictions=pricing.predict(batch))
    assert result.error is None and result.drift is None
    assert "is not in the artifact store" in result.problems[0] and "prediction.mean" in result.metrics


def test_a_deployment_turns_degraded_and_the_report_shows_it_with_the_latest_drift(tracking, pricing):
    from modeldb_core.registry import report

    deployed = mdb.record_deployment("models:/pricing/1", "prod", endpoint="https://pricing.internal")
    for seed in range(3):
        result = mdb.monitor("models:/pricing/1", batch=_data(400, seed=40 + seed, shift=1.0), deployment=str(deployed.id))
    assert result.degraded
    [now] = mdb.deployments(model="pricing", environment="prod")
    assert now.id == deployed.id and now.state == "degraded"
    assert now.state_reason.startswith("3 flagged monitoring batches in a row")
    actions = [e.action for e in tracking.store.audit_events("models:/pricing", limit=None)]
    assert "deployment.degrade" in actions
    built = report.build(tracking.store, "models:/pricing/1")
    [state] = built["monitoring"]
    assert (state["deployment"], state["flagged_in_a_row"], state["degraded"]) == (str(deployed.id), 3, True)
    assert state["top_drift"].startswith("area (PSI ")
    text = report.markdown(built)
    assert "## Latest monitoring" in text and "area (PSI" in text
    assert [d["state"] for d in built["deployments"]] == ["degraded"]
    assert "Latest monitoring" in report.html(built)


def test_a_retrained_version_deployed_in_its_place_starts_its_own_run_of_flagged_batches(tracking, pricing):
    """The degradation rule counts the batches of one version in one deployment: the flagged batches
    of the version a retrained one replaced in ``prod`` do not make the new one degraded at its
    first flagged batch (found by the lifecycle scenario, tests/lifecycle)."""
    mdb.record_deployment("models:/pricing/1", "prod")
    answers = [mdb.monitor("models:/pricing/1", batch=_data(400, seed=50 + seed, shift=1.0)[FEATURES],
                           deployment="prod").degraded for seed in range(3)]
    assert answers == [False, False, True]
    _train_pricing(_data(5000, seed=2, shift=1.0))
    mdb.flush()
    mdb.record_deployment("models:/pricing/2", "prod")
    first = mdb.monitor("models:/pricing/2", batch=_data(400, seed=60, shift=3.0)[FEATURES], deployment="prod")
    assert (first.version, first.flagged, first.degraded) == (2, True, False)
    [now] = mdb.deployments(model="pricing", environment="prod")
    assert (now.version, now.state) == (2, "deployed")
    assert not deployment_degraded(tracking.store, "prod", model="pricing", version=2, rule=DegradationRule(3))
    assert deployment_degraded(tracking.store, "prod", model="pricing", version=1, rule=DegradationRule(3))


def test_two_projects_models_of_one_name_are_monitored_apart(tracking):
    """Model names are unique per project: two teams' ``pricing`` version 1, both in ``prod``,
    keep their own run of flagged batches (the rule of one never counts the other's)."""
    train = _data(3000, seed=1)
    for project in ("risk", "retail"):
        with mdb.start_run("train", project=project):
            _train_pricing(train)
    mdb.flush()
    risk = [mdb.monitor("models:/risk/pricing/1", batch=_data(400, seed=50 + seed, shift=1.0), deployment="prod")
            for seed in range(2)]
    assert [r.flagged for r in risk] == [True, True] and not risk[-1].degraded
    retail = mdb.monitor("models:/retail/pricing/1", batch=_data(400, seed=60, shift=1.0), deployment="prod")
    assert retail.flagged and not retail.degraded, "the other project's flagged batches are not this one's"
    mdb.flush()
    [state] = latest_states(tracking.store, "pricing", project="risk", rule=DegradationRule(3))
    assert (state.batches, state.flagged_in_a_row) == (2, 2)
    assert [h["flagged"] for h in history(tracking.store, "pricing", project="retail")] == [True]
