"""One lineage graph across orchestrators: a Luigi build writes a file, a Prefect flow
trains on it; walking up from the Prefect task run reaches the Luigi run."""
from __future__ import annotations

import os

import luigi
from prefect import flow, task

import modeldb_core
from modeldb_core.integrations import luigi as mdb_luigi
from modeldb_core.integrations.prefect import track


class SensorFeatures(luigi.Task):
    folder = luigi.Parameter()

    def output(self):
        return luigi.LocalTarget(os.path.join(self.folder, "features.csv"))

    def run(self):
        with self.output().open("w") as fh:
            fh.write("x,y\n1,2.1\n2,3.9\n3,6.2\n")


@task
def fit(features_path: str) -> dict:
    with open(features_path) as fh:
        rows = [tuple(map(float, line.split(","))) for line in fh.read().splitlines()[1:]]
    slope = sum(y for _, y in rows) / sum(x for x, _ in rows)
    modeldb_core.log_metric("slope", slope)
    return {"slope": slope}


@flow
def training(features_path: str) -> dict:
    return fit(features_path)


def test_a_luigi_output_is_the_input_of_a_prefect_task_run(sqlite_uri, tmp_path):
    client = modeldb_core.configure(uri=sqlite_uri)
    try:
        assert mdb_luigi.build([SensorFeatures(folder=str(tmp_path))], local_scheduler=True, log_level="WARNING")
        features = str(tmp_path / "features.csv")
        assert track(training, project="default", phase="training")(features)["slope"] > 1.9

        store = client.store
        runs = {r.name: r for r in store.list_runs(limit=10)}
        assert (runs["SensorFeatures"].orchestrator, runs["fit"].orchestrator) == ("luigi", "prefect")
        [written] = store.get_run_detail(runs["SensorFeatures"].id).outputs
        read = {i.name: i for i in store.get_run_detail(runs["fit"].id).inputs}
        assert read["features_path"].artifact.id == written.artifact.id   # one node: same file, same content

        graph = store.lineage(f"run:{runs['fit'].id}", direction="up", depth=4)
        assert f"run:{runs['SensorFeatures'].id}" in {f"{n.kind}:{n.id}" for n in graph.nodes}
    finally:
        client.close()
