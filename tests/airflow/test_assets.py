"""Lineage across two DAGs linked by an Asset: one graph, whichever DAG wrote or read."""
from __future__ import annotations

import os
from pathlib import Path

from airflow.sdk import Asset, dag, task

DATA = Path(os.environ["AIRFLOW_HOME"]) / "data"
SCORES = Asset(name="scores", uri=f"file://{DATA / 'scores.csv'}")


@dag(dag_id="mdb_asset_producer", schedule=None)
def producer():
    @task(outlets=[SCORES])
    def write_scores() -> None:
        DATA.mkdir(parents=True, exist_ok=True)
        (DATA / "scores.csv").write_text("id,score\n1,0.5\n2,0.9\n")

    write_scores()


@dag(dag_id="mdb_asset_consumer", schedule=[SCORES])
def consumer():
    @task(inlets=[SCORES])
    def read_scores() -> float:
        lines = (DATA / "scores.csv").read_text().splitlines()[1:]
        return max(float(line.split(",")[1]) for line in lines)

    read_scores()


PRODUCER, CONSUMER = producer(), consumer()


def test_an_asset_joins_the_lineage_of_two_dags(airflow_tracking, run_dag):
    assert run_dag(PRODUCER).state == "success"
    assert run_dag(CONSUMER).state == "success"
    store = airflow_tracking.store
    runs = {r.name: r for r in store.list_runs(limit=10)}
    written = store.get_run_detail(runs["write_scores"].id).outputs
    read = store.get_run_detail(runs["read_scores"].id).inputs
    assert [(o.name, o.artifact.uri) for o in written] == [("scores", SCORES.uri)]
    assert [(i.name, i.artifact.uri) for i in read] == [("scores", SCORES.uri)]
    assert written[0].artifact.id == read[0].artifact.id          # same file, same content
    assert written[0].artifact.content_hash.startswith("sha256:")
    assert runs["write_scores"].pipeline_run_id != runs["read_scores"].pipeline_run_id

    graph = store.lineage(f"run:{runs['read_scores'].id}", direction="up", depth=4)
    assert f"run:{runs['write_scores'].id}" in {f"{n.kind}:{n.id}" for n in graph.nodes}
    down = store.lineage(f"run:{runs['write_scores'].id}", direction="down", depth=4)
    assert f"run:{runs['read_scores'].id}" in {f"{n.kind}:{n.id}" for n in down.nodes}

    # Plain Python reading the same file joins the same graph (as Luigi and Prefect do).
    from modeldb_core import flush, tracked_task

    @tracked_task(project="default")
    def report(path: str) -> int:
        return len(open(path).read().splitlines())

    assert report(str(DATA / "scores.csv")) == 3
    assert flush(60)  # this process's tracked call is in the store (another store object reads it)
    [plain] = [r for r in store.list_runs(limit=10) if r.orchestrator == "python"]
    assert store.get_run_detail(plain.id).inputs[0].artifact.id == written[0].artifact.id
    graph = store.lineage(f"run:{plain.id}", direction="up", depth=4)
    assert f"run:{runs['write_scores'].id}" in {f"{n.kind}:{n.id}" for n in graph.nodes}


FEATURES = Asset(name="features")  # declared by name only, as Airflow's asset examples do


@dag(dag_id="mdb_named_asset_producer", schedule=None)
def named_producer():
    @task(outlets=[FEATURES])
    def build_features() -> None:
        pass

    build_features()


@dag(dag_id="mdb_named_asset_consumer", schedule=[FEATURES])
def named_consumer():
    @task(inlets=[FEATURES])
    def train_on_features() -> None:
        pass

    train_on_features()


NAMED_PRODUCER, NAMED_CONSUMER = named_producer(), named_consumer()


def test_an_asset_named_without_a_uri_is_one_node_whatever_folder_each_worker_runs_in(
        airflow_tracking, run_dag, tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    assert run_dag(NAMED_PRODUCER).state == "success"
    monkeypatch.chdir(tmp_path / "b")
    assert run_dag(NAMED_CONSUMER).state == "success"
    store = airflow_tracking.store
    runs = {r.name: r for r in store.list_runs(limit=10)}
    [written] = store.get_run_detail(runs["build_features"].id).outputs
    [read] = store.get_run_detail(runs["train_on_features"].id).inputs
    assert (written.name, written.artifact.uri, written.artifact.kind) == ("features", "airflow-asset://features", "asset")
    assert read.artifact.id == written.artifact.id
    assert str(tmp_path) not in written.artifact.uri
