"""A real 4-task Luigi pipeline, tracked with track() and a plain luigi.build."""
from __future__ import annotations

import inspect
import os

import luigi

BUILD = {"local_scheduler": True, "no_lock": True, "log_level": "WARNING"}


def _node_keys(graph):
    return {f"{n.kind}:{n.id}" for n in graph.nodes}


def test_each_task_becomes_a_run_with_params_phase_code_and_timing(luigi_tracking, pipeline, folder, by_name):
    assert luigi.build([pipeline.TrainModel(folder=folder, C=0.5)], **BUILD) is True

    runs = by_name(luigi_tracking)
    assert sorted(runs) == ["CleanData", "Features", "RawData", "TrainModel"]
    assert all(len(v) == 1 for v in runs.values())
    store = luigi_tracking.store

    raw = store.get_run_detail(runs["RawData"][0].id)
    assert raw.run.status == "succeeded" and raw.run.orchestrator == "luigi"
    assert raw.run.external_id == pipeline.RawData(folder=folder).task_id
    # Typed, from param_kwargs: an int stays an int, a date becomes ISO 8601.
    assert raw.params == {"folder": folder, "n_rows": 120, "seed": 7, "day": "2026-11-26"}
    assert raw.run.phase == "data_prep"                       # class attribute
    # The code version is the task class's module.
    assert raw.code_version.source_file == os.path.realpath(inspect.getsourcefile(pipeline.RawData))
    assert raw.run.started_at <= raw.run.ended_at
    assert raw.metrics["luigi.processing_seconds"] >= 0

    clean = store.get_run_detail(runs["CleanData"][0].id)
    assert "verbose" not in clean.params                     # insignificant: not a param
    assert clean.params["phase"] == "data_prep" and clean.run.phase == "data_prep"  # a "phase" parameter

    features = store.get_run_detail(runs["Features"][0].id)
    assert features.run.phase == "feature_engineering"       # an (insignificant) modeldb_phase parameter
    assert "modeldb_phase" not in features.params

    train = store.get_run_detail(runs["TrainModel"][0].id)
    assert train.params == {"folder": folder, "seed": 7, "C": 0.5, "fail": False}
    assert isinstance(train.params["C"], float)
    assert train.run.phase == "training"
    assert 0.5 < train.metrics["accuracy"] <= 1.0            # modeldb_core.log_metric inside run()
    assert train.code_version.function is None

    # All four runs belong to one pipeline run, which ended succeeded.
    assert len({r[0].pipeline_run_id for r in runs.values()}) == 1


def test_lineage_from_targets_is_walked_end_to_end(luigi_tracking, pipeline, folder, by_name):
    assert luigi.build([pipeline.TrainModel(folder=folder)], **BUILD)
    runs = {name: v[0].id for name, v in by_name(luigi_tracking).items()}
    store = luigi_tracking.store

    features = store.get_run_detail(runs["Features"])
    assert {(o.name, o.artifact.uri) for o in features.outputs} == {
        ("X", "file://" + os.path.join(folder, "X-7.json")),
        ("y", "file://" + os.path.join(folder, "y-7.json"))}
    assert [(i.name, i.artifact.uri) for i in features.inputs] == [
        ("clean", "file://" + os.path.join(folder, "clean-7.csv"))]
    # Local files are fingerprinted by content.
    x = next(o.artifact for o in features.outputs if o.name == "X")
    import hashlib
    with open(os.path.join(folder, "X-7.json"), "rb") as fh:
        assert x.content_hash == "sha256:" + hashlib.sha256(fh.read()).hexdigest()
    assert x.size == os.path.getsize(os.path.join(folder, "X-7.json"))

    train = store.get_run_detail(runs["TrainModel"])
    assert {i.name for i in train.inputs} == {"Features.X", "Features.y"}

    graph = store.lineage(f"run:{runs['TrainModel']}", direction="up", depth=10)
    keys = _node_keys(graph)
    for name in ("RawData", "CleanData", "Features"):
        assert f"run:{runs[name]}" in keys, name
    labels = {n.label.split("@")[0] for n in graph.nodes if n.kind == "artifact"}
    assert labels == {"file://" + os.path.join(folder, f) for f in
                      ("X-7.json", "y-7.json", "clean-7.csv", "raw-7.csv")}
    edges = {(e.source, e.target) for e in graph.edges}
    clean_out = store.get_run_detail(runs["CleanData"]).outputs[0].artifact.id
    assert (f"run:{runs['CleanData']}", f"artifact:{clean_out}") in edges
    assert (f"artifact:{clean_out}", f"run:{runs['Features']}") in edges

    # And downstream from the raw file: every run that depends on it.
    raw_out = store.get_run_detail(runs["RawData"]).outputs[0].artifact.id
    down = _node_keys(store.lineage(f"artifact:{raw_out}", direction="down", depth=10))
    assert {f"run:{runs[n]}" for n in ("CleanData", "Features", "TrainModel")} <= down


def test_a_failing_task_is_a_failed_run_and_the_build_fails_on_its_own(luigi_tracking, pipeline, folder, by_name):
    assert luigi.build([pipeline.TrainModel(folder=folder, C=2.0, fail=True)], **BUILD) is False

    runs = by_name(luigi_tracking)
    failed = luigi_tracking.store.get_run_detail(runs["TrainModel"][0].id)
    assert failed.run.status == "failed"
    assert failed.run.error_type == "ValueError"
    assert failed.run.error_message == "training diverged at C=2.0"
    assert "raise ValueError" in failed.run.error_traceback
    assert failed.outputs == []
    assert {i.name for i in failed.inputs} == {"Features.X", "Features.y"}  # it did read them
    assert all(runs[n][0].status == "succeeded" for n in ("RawData", "CleanData", "Features"))
    assert not os.path.exists(os.path.join(folder, "model-7-C2.0.pkl"))


def test_rerun_links_complete_tasks_to_the_runs_that_made_their_outputs(luigi_tracking, pipeline, folder, by_name):
    assert luigi.build([pipeline.TrainModel(folder=folder, C=1.0)], **BUILD)
    first = {name: v[0] for name, v in by_name(luigi_tracking).items()}

    # Second build: raw, cleaned and features exist; Luigi skips them (no START/SUCCESS).
    assert luigi.build([pipeline.TrainModel(folder=folder, C=3.0)], **BUILD)
    second = by_name(luigi_tracking)
    assert [len(second[n]) for n in ("RawData", "CleanData", "Features")] == [1, 1, 1]
    assert len(second["TrainModel"]) == 2
    new = second["TrainModel"][1]
    assert new.pipeline_run_id != first["TrainModel"].pipeline_run_id  # one build, one pipeline run

    graph = luigi_tracking.store.lineage(f"run:{new.id}", direction="up", depth=10)
    keys = _node_keys(graph)
    # The skipped tasks appear through the runs of the first build that wrote those versions.
    assert {f"run:{first[n].id}" for n in ("RawData", "CleanData", "Features")} <= keys
    assert f"run:{first['TrainModel'].id}" not in keys

    # A complete task whose output was never recorded: its version still shows, alone.
    extra = os.path.join(folder, "raw-99.csv")
    with open(extra, "w") as fh:
        fh.write("a,b,label\n0.1,0.2,1\n0.3,0.1,0\n")
    assert luigi.build([pipeline.CleanData(folder=folder, seed=99)], **BUILD)
    clean99 = by_name(luigi_tracking)["CleanData"][-1]
    up = luigi_tracking.store.lineage(f"run:{clean99.id}", direction="up", depth=10)
    assert [n.label.split("@")[0] for n in up.nodes if n.kind == "artifact"] == ["file://" + extra]
    assert [n.id for n in up.nodes if n.kind == "run"] == [clean99.id]


def test_changed_content_is_a_new_version_without_the_old_producer(luigi_tracking, pipeline, folder, by_name):
    assert luigi.build([pipeline.CleanData(folder=folder)], **BUILD)
    raw_run = by_name(luigi_tracking)["RawData"][0]
    with open(os.path.join(folder, "raw-7.csv"), "a") as fh:
        fh.write("1.0,1.0,1\n")                       # edited by hand after it was produced
    os.remove(os.path.join(folder, "clean-7.csv"))
    assert luigi.build([pipeline.CleanData(folder=folder)], **BUILD)
    again = by_name(luigi_tracking)["CleanData"][-1]
    keys = _node_keys(luigi_tracking.store.lineage(f"run:{again.id}", direction="up", depth=4))
    assert f"run:{raw_run.id}" not in keys
    versions = luigi_tracking.store.find_artifact_versions("file://" + os.path.join(folder, "raw-7.csv"))
    assert len(versions) == 2
