"""The run page of a scikit-learn fit draws the estimator's step graph."""
from __future__ import annotations


def test_run_page_draws_the_pipeline_steps(tmp_path):
    import numpy as np
    from fastapi.testclient import TestClient
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    import modeldb_core
    from modeldb_core.sklearn import autolog
    from modeldb_core.web import create_app

    uri = f"sqlite:///{tmp_path / 'modeldb.db'}"
    client = modeldb_core.configure(uri=uri, artifacts=str(tmp_path / "artifacts"))
    autolog()
    try:
        numeric = Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler())])
        model = Pipeline([("prep", ColumnTransformer([("num", numeric, [0, 1])])), ("ridge", Ridge())])
        rng = np.random.default_rng(0)
        model.fit(rng.random((40, 2)), rng.random(40))
    finally:
        autolog(disable=True)
        client.close()
        import modeldb_core.client

        modeldb_core.client._client = None  # no process-wide client left on this store
    with TestClient(create_app(uri)) as app:
        run = app.get("/api/runs", params={"filter": 'tags."sklearn.estimator_class" = "Pipeline"'}).json()["runs"][0]
        graph = app.get(f"/api/runs/{run['run']['id']}").json()["estimator_graph"]
        labels = {n["key"]: n["label"] for n in graph["nodes"]}
        assert labels["prep"] == "prep" and labels["prep__num__impute"] == "num: impute"
        assert {"source": "prep__num__scale", "target": "ridge"} in graph["edges"]
        html = app.get(f"/runs/{run['run']['id']}").text
        assert 'id="estimator-graph"' in html and "StandardScaler" in html
