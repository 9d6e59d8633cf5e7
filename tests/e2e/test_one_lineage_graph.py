"""One lineage graph across orchestrators: a Luigi task writes a file, a plain
tracked function reads it, and a scikit-learn fit trains on what that returns.
Walking upstream from the model's run reaches the Luigi task's run."""
from __future__ import annotations

import luigi
import numpy as np

import modeldb_core as mdb
from modeldb_core.integrations import luigi as mdb_luigi


class ExportMeasurements(luigi.Task):
    folder = luigi.Parameter()
    rows = luigi.IntParameter(default=200)

    def output(self):
        return luigi.LocalTarget(f"{self.folder}/measurements.csv")

    def run(self):
        rng = np.random.default_rng(3)
        x = rng.normal(size=(self.rows, 3))
        y = x @ np.array([1.5, -2.0, 0.5]) + rng.normal(scale=0.1, size=self.rows)
        with self.output().open("w") as fh:
            np.savetxt(fh, np.column_stack([x, y]), delimiter=",")


@mdb.tracked_task(project="cross", phase="feature_engineering")
def load_features(path: str):
    table = np.loadtxt(path, delimiter=",")
    return table[:, :3], table[:, 3]


def test_luigi_python_and_sklearn_runs_form_one_graph(tracking, tmp_path):
    from sklearn.linear_model import Ridge
    from modeldb_core.sklearn import autolog

    assert mdb_luigi.build([ExportMeasurements(folder=str(tmp_path))], local_scheduler=True)
    X, y = load_features(str(tmp_path / "measurements.csv"))
    autolog()
    try:
        Ridge(alpha=0.5).fit(X, y)
    finally:
        autolog(disable=True)

    runs = tracking.store.list_runs(limit=100)
    by_orchestrator = {r.orchestrator for r in runs}
    assert {"luigi", "python"} <= by_orchestrator
    model_run = [r for r in runs if "Ridge" in r.name]
    assert model_run, [r.name for r in runs]
    graph = tracking.store.lineage(f"run:{model_run[0].id}", "up", 10)
    upstream_runs = {n.label for n in graph.nodes if n.kind == "run"}
    assert "ExportMeasurements" in upstream_runs, upstream_runs
    assert any("load_features" in label for label in upstream_runs), upstream_runs
    files = [n.label for n in graph.nodes if n.kind == "artifact" and "measurements.csv" in n.label]
    assert len(files) == 1, "the file Luigi wrote and the function read is one node"
