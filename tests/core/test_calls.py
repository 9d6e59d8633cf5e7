"""The one rule for what a call's arguments and return value become (modeldb_core/calls.py)."""
from __future__ import annotations

import modeldb_core as mdb
from modeldb_core import calls, phases


def _detail(client, name):
    [run] = [r for r in client.store.list_runs(limit=50) if r.name == name]
    return client.store.get_run_detail(run.id)


def test_a_returned_dict_of_paths_is_file_nodes_the_reader_joins(tracking, tmp_path):
    model = tmp_path / "model.json"

    @mdb.tracked_task(name="train")
    def train(settings):
        model.write_text('{"w": 1}')
        return {"model": str(model), "rmse": 0.5}

    @mdb.tracked_task(name="evaluate")
    def evaluate(trained, threshold=0.1):
        return {"ok": True}

    evaluate(train({"lr": 0.1, "source": str(tmp_path / "missing.csv")}))
    trained, evaluated = _detail(tracking, "train"), _detail(tracking, "evaluate")
    [out] = trained.outputs  # the path inside the dict; the number is not an output
    assert (out.name, out.artifact.uri, out.artifact.kind) == ("return.model", f"file://{model}", "file")
    [read] = evaluated.inputs  # the dict handed in: its artifact-like item is the input
    assert read.name == "trained.model" and read.artifact.id == out.artifact.id
    assert evaluated.params["threshold"] == 0.1 and evaluated.params["trained"]["rmse"] == 0.5
    assert trained.inputs == []  # a path that does not exist is a param only
    assert evaluated.outputs == []  # plain values are outputs only when an orchestrator hands them on


def test_values_handed_over_are_value_nodes_on_both_sides(tmp_path):
    scores = {"rmse": 0.5, "r2": 0.9}
    [(name, produced)] = calls.outputs_of(scores, handed_over=True)
    params, [(arg, consumed)] = calls.split_arguments({"scores": scores, "k": 3}, handed_over=["scores"])
    assert (name, arg) == ("return", "scores")
    assert produced.uri == consumed.uri and produced.uri.startswith("value:json/")
    assert params == {"scores": scores, "k": 3}
    assert calls.outputs_of(scores, handed_over=False) == []
    assert calls.outputs_of(None, handed_over=True) == [] and calls.outputs_of(ValueError("x"), True) == []


def test_one_phase_rule(caplog):
    @mdb.tracked_task(phase="evaluation")
    def check():
        return None

    assert phases.phase_for("train_model", task="training", function=check, pipeline="data_prep") == "training"
    assert phases.phase_for("train_model", function=check, pipeline="data_prep") == "evaluation"
    assert phases.phase_for("train_model", pipeline="data_prep") == "data_prep"
    assert phases.phase_for("train_model") == "training"
    assert phases.phase_for("Extract") == "data_prep" and phases.phase_for("report") is None
    # A typo in an orchestrator's setting is logged, and the next rule applies.
    assert phases.phase_for("train_model", task="trainnig") == "training"
    assert "trainnig" in caplog.text
