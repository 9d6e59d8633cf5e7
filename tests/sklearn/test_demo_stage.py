"""The scikit-learn stage of `modeldb demo`, run for real."""
from __future__ import annotations

import json

import modeldb_core as mdb
from modeldb_core.sklearn import is_enabled
from modeldb_core.sklearn.demo import run_demo_stage


def test_demo_stage_logs_a_pipeline_and_a_grid_search(sqlite_uri):
    client = mdb.configure(uri=sqlite_uri)
    text = run_demo_stage(project="house-prices")
    assert "Pipeline(ColumnTransformer -> Ridge)" in text and "GridSearchCV, 6 candidates" in text
    assert not is_enabled(), "the stage turns autolog off again when it turned it on"

    runs = {r.id: r for r in client.store.list_runs(project="house-prices", limit=100)}
    (stage,) = [r for r in runs.values() if r.name == "sklearn_house_prices"]
    assert sorted(r.name for r in runs.values() if r.parent_run_id == stage.id) == ["GridSearchCV", "Pipeline"]
    children = {r.name: r for r in runs.values() if r.parent_run_id == stage.id}
    assert client.runtime.dropped == 0, "no metric was dropped by the journal's cap"
    pipe = client.store.get_run_detail(children["Pipeline"].id)
    graph = json.loads(pipe.tags["sklearn.pipeline_graph"])
    assert {n["class"] for n in graph["nodes"]} == {"ColumnTransformer", "SimpleImputer", "StandardScaler",
                                                    "OneHotEncoder", "Ridge"}
    assert {"root_mean_squared_error", "r2_score", "training_score"} <= set(pipe.metrics), (
        pipe.run, pipe.tags, client.runtime.dropped)
    assert [io.name for io in pipe.outputs] == ["model"]
    search_children = [r for r in runs.values() if r.parent_run_id == children["GridSearchCV"].id]
    assert len(search_children) == 6
    assert sum(client.store.get_run_detail(r.id).tags.get("sklearn.best_candidate") == "true"
               for r in search_children) == 1
    client.close()
