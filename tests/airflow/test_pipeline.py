"""A real ML DAG (data prep -> features -> train -> evaluate) run by ``dag.test()``.

Checks what a user looks for in ModelDB afterwards: one pipeline with the
DAG's graph, one pipeline run, one run per task with its phase, external id,
try number, params (defaults and templates resolved), metrics logged inside
the task, the files passed between tasks as lineage, and the code version.
"""
from __future__ import annotations

import os
import pickle

import modeldb_core
from airflow.sdk import dag, task
from modeldb_core import tracked_task


@dag(dag_id="mdb_ml_pipeline", schedule=None, render_template_as_native_obj=True,
     params={"workdir": "", "alpha": 0.5})
def ml_pipeline():
    @task
    def prepare_data(workdir: str, rows: int = 200) -> str:
        import numpy as np
        import pandas as pd

        rng = np.random.default_rng(0)
        x = rng.normal(size=(rows, 3))
        y = x @ np.array([1.5, -2.0, 0.5]) + rng.normal(scale=0.1, size=rows)
        frame = pd.DataFrame(x, columns=["a", "b", "c"]).assign(y=y)
        path = os.path.join(workdir, "raw.csv")
        frame.to_csv(path, index=False)
        return path

    @task
    def build_features(raw_path: str) -> str:
        import pandas as pd

        frame = pd.read_csv(raw_path)
        frame["ab"] = frame["a"] * frame["b"]
        path = os.path.join(os.path.dirname(raw_path), "features.csv")
        frame.to_csv(path, index=False)
        return path

    @task
    @tracked_task(phase="training", tags={"model": "ridge"})
    def train_model(features_path: str, alpha: float) -> str:
        import numpy as np
        import pandas as pd
        from sklearn.linear_model import Ridge

        frame = pd.read_csv(features_path)
        x, y = frame.drop(columns="y").to_numpy(), frame["y"].to_numpy()
        model = None
        for step, size in enumerate((50, 100, 200)):
            model = Ridge(alpha=alpha).fit(x[:size], y[:size])
            rmse = float(np.sqrt(np.mean((model.predict(x) - y) ** 2)))
            modeldb_core.log_metric("train_rmse", rmse, step=step)
        path = os.path.join(os.path.dirname(features_path), "model.pkl")
        with open(path, "wb") as fh:
            pickle.dump(model, fh)
        return path

    @task
    def evaluate_model(model_path: str, features_path: str) -> dict:
        import pandas as pd

        with open(model_path, "rb") as fh:
            model = pickle.load(fh)
        frame = pd.read_csv(features_path)
        r2 = float(model.score(frame.drop(columns="y").to_numpy(), frame["y"].to_numpy()))
        modeldb_core.log_metric("r2", r2)
        return {"r2": r2}

    raw = prepare_data(workdir="{{ params.workdir }}")
    features = build_features(raw)
    model = train_model(features, alpha="{{ params.alpha }}")
    evaluate_model(model, features)


ML_DAG = ml_pipeline()
TASKS = ["prepare_data", "build_features", "train_model", "evaluate_model"]


def _by_name(store):
    runs = store.list_runs(limit=100)
    return {r.name: r for r in runs}, runs


def test_every_task_becomes_a_run_with_phase_params_metrics_and_lineage(tracking, run_dag, tmp_path):
    dr = run_dag(ML_DAG, workdir=str(tmp_path), alpha=0.25)
    assert dr.state == "success"
    store = tracking.store
    named, runs = _by_name(store)
    # One run per task: @tracked_task under @task logged into the listener's run.
    assert sorted(r.name for r in runs) == sorted(TASKS)
    assert {r.name: r.phase for r in runs} == {
        "prepare_data": "data_prep", "build_features": "feature_engineering",
        "train_model": "training", "evaluate_model": "evaluation"}
    for name, run in named.items():
        assert run.status == "succeeded"
        assert run.orchestrator == "airflow"
        assert run.external_id == f"mdb_ml_pipeline/{dr.run_id}/{name}"
        assert run.try_number == 1
    assert len({r.pipeline_run_id for r in runs}) == 1

    prep = store.get_run_detail(named["prepare_data"].id)
    assert prep.params["workdir"] == "file://" + str(tmp_path)  # rendered; a folder is an input
    assert "workdir" in {i.name for i in prep.inputs}
    assert prep.params["rows"] == 200                        # a default not passed
    assert prep.params["params.alpha"] == 0.25               # DAG param, run conf applied
    assert prep.tags["airflow.dag_id"] == "mdb_ml_pipeline"
    assert prep.tags["airflow.state"] == "success"
    raw_uri = "file://" + str(tmp_path / "raw.csv")
    assert [(o.name, o.artifact.uri) for o in prep.outputs] == [("return", raw_uri)]
    assert prep.code_version.function.endswith("prepare_data")

    train = store.get_run_detail(named["train_model"].id)
    assert train.params["alpha"] == 0.25
    assert [m.step for m in train.metric_history["train_rmse"]] == [0, 1, 2]
    assert train.tags["model"] == "ridge"
    features_in = {i.name: i.artifact for i in train.inputs}["features_path"]
    features = store.get_run_detail(named["build_features"].id)
    features_out = {o.name: o.artifact for o in features.outputs}["return"]
    assert features_in.id == features_out.id                 # one node: same file, same content

    evaluate = store.get_run_detail(named["evaluate_model"].id)
    assert evaluate.metrics["r2"] > 0.9
    assert evaluate.outputs[0].artifact.kind == "json"       # the dict it returned

    graph = store.lineage(f"run:{named['evaluate_model'].id}", direction="up", depth=10)
    upstream = {n.id for n in graph.nodes if n.kind == "run"}
    assert {named[t].id for t in TASKS} <= upstream

    [(prun, pipeline)] = store.pipeline_runs(ids=[named["train_model"].pipeline_run_id])
    assert prun.external_id == dr.run_id
    assert prun.status == "succeeded"
    assert (pipeline.name, pipeline.orchestrator) == ("mdb_ml_pipeline", "airflow")
    shape = pipeline.structure
    assert sorted(shape["tasks"]) == sorted(TASKS)
    assert ["build_features", "train_model"] in shape["edges"]
    assert ["train_model", "evaluate_model"] in shape["edges"]


def test_a_second_dag_run_is_a_second_pipeline_run_of_the_same_pipeline(airflow_tracking, run_dag, tmp_path):
    first = run_dag(ML_DAG, workdir=str(tmp_path))
    second = run_dag(ML_DAG, workdir=str(tmp_path))
    store = airflow_tracking.store
    runs = store.list_runs(limit=100)
    assert len(runs) == 8
    by_run = {}
    for r in runs:
        by_run.setdefault(r.external_id.split("/")[1], set()).add(r.pipeline_run_id)
    assert set(by_run) == {first.run_id, second.run_id}
    assert all(len(ids) == 1 for ids in by_run.values())
    assert by_run[first.run_id] != by_run[second.run_id]
    # Same data, same code: the second run's prepared file is the same artifact version.
    prep = [store.get_run_detail(r.id) for r in runs if r.name == "prepare_data"]
    assert prep[0].outputs[0].artifact.id == prep[1].outputs[0].artifact.id
