"""Versions registered from inside tracked work: plain ``@tracked_task`` calls and a real Luigi build."""
from __future__ import annotations

import os
import pickle

import luigi
import pytest

import modeldb_core as mdb
from modeldb_core import registry
from modeldb_core.errors import PromotionRefusedError, ValidationError
from modeldb_core.integrations import luigi as mdb_luigi


@mdb.tracked_task(project="pricing", phase="training", register_model="pricing", outputs=["model_path"])
def train(data_path: str, model_path: str, rmse: float) -> None:
    with open(data_path) as fh:
        rows = fh.read()
    with open(model_path, "wb") as fh:
        pickle.dump({"rows": len(rows), "rmse": rmse}, fh)
    mdb.log_metric("rmse", rmse)


class TrainPricing(luigi.Task):
    """A Luigi task whose work is the tracked function above."""

    folder = luigi.Parameter()
    rmse = luigi.FloatParameter()
    modeldb_phase = "training"

    def output(self):
        return luigi.LocalTarget(os.path.join(self.folder, f"model-{self.rmse}.pkl"), format=luigi.format.Nop)

    def run(self):
        train(os.path.join(self.folder, "train.csv"), self.output().path, self.rmse)


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("x,y\n1,2\n3,4\n")
    return tmp_path


def test_plain_tracked_calls_and_a_luigi_build_register_versions_and_promote(tracking, data):
    train(str(data / "train.csv"), str(data / "a.pkl"), 27.0)
    train(str(data / "train.csv"), str(data / "b.pkl"), 26.0)
    train(str(data / "train.csv"), str(data / "a.pkl"), 27.0)  # the same content again: version 1
    mdb_luigi.track()
    try:
        assert luigi.build([TrainPricing(folder=str(data), rmse=31.0)], local_scheduler=True, no_lock=True,
                           log_level="WARNING")
    finally:
        mdb_luigi.untrack()
    mdb.flush()
    versions = tracking.store.model_versions("pricing")
    assert [v.version for v in versions] == [1, 2, 3]
    assert [v.metrics.get("rmse") for v in versions] == [27.0, 26.0, 31.0]
    assert all(v.inputs and v.inputs[0][1].endswith("train.csv") for v in versions)
    luigi_run = tracking.store.get_run(versions[2].run_id)
    assert luigi_run.name == "train"
    parent = tracking.store.get_run(luigi_run.parent_run_id) if luigi_run.parent_run_id else luigi_run
    assert parent.orchestrator == "luigi"

    registry.set_policy("pricing", "production", {"beat_holder": {"metric": "rmse", "goal": "min"}})
    registry.promote("models:/pricing/1", "production")
    with pytest.raises(PromotionRefusedError, match=r"rmse = 31.*rmse = 27"):
        registry.promote("models:/pricing/3", "production")
    registry.promote("models:/pricing/2", "production", reason="lower rmse")
    assert mdb.resolve_model("models:/pricing@production").version == 2
    assert mdb.load_model("models:/pricing@production") == {"rows": 12, "rmse": 26.0}
    assert tracking.store.verify_audit().ok


def test_a_bad_model_name_is_refused_when_decorating():
    with pytest.raises(ValidationError, match="register_model"):
        mdb.tracked_task(register_model="a/b")(lambda: None)


def test_a_task_without_output_still_runs_and_registers_nothing(tracking):
    @mdb.tracked_task(register_model="pricing", capture_return=False)
    def nothing() -> int:
        return 3

    assert nothing() == 3
    mdb.flush()
    assert tracking.store.list_models() == []
