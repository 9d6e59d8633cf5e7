"""The web app never opens a path that a record names.

A run record is data anyone who can track can write: an output named
``pipeline_graph`` whose URI is ``file:///any/path`` used to be opened on every
view of the run page (a FIFO there hung the request). What the page shows of
an estimator comes from the store, or from the artifact store by hash.
"""
from __future__ import annotations

import json
import os
import time

import pytest


def _forget_client():
    import modeldb_core.client

    modeldb_core.client._client = None


def test_a_record_naming_a_local_file_or_fifo_is_never_opened(tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    import modeldb_core
    from modeldb_core import start_run
    from modeldb_core.web import create_app

    uri = f"sqlite:///{tmp_path / 'modeldb.db'}"
    monkeypatch.setenv("MODELDB_ARTIFACTS", str(tmp_path / "artifacts"))
    secret = tmp_path / "graph.json"
    secret.write_text(json.dumps({"nodes": [{"id": "SECRET-CONTENT", "class": "X"}], "edges": []}))
    client = modeldb_core.configure(uri=uri)
    try:
        with start_run("hostile", project="p") as run:
            run.log_output(str(secret), name="pipeline_graph")
            run_id = run.id
    finally:
        client.close()
        _forget_client()
    with TestClient(create_app(uri)) as app:
        detail = app.get(f"/api/runs/{run_id}").json()
        assert detail["outputs"][0]["uri"].startswith("file://")
        assert detail["estimator_graph"] is None
        assert "SECRET-CONTENT" not in app.get(f"/runs/{run_id}").text
        secret.unlink()
        os.mkfifo(secret)  # a reader of this path would wait forever
        started = time.monotonic()
        for _ in range(20):
            assert app.get(f"/runs/{run_id}").status_code == 200
        assert time.monotonic() - started < 10


def test_a_large_estimator_graph_comes_from_the_artifact_store_by_hash(tmp_path, monkeypatch):
    from fastapi.testclient import TestClient
    import numpy as np
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.preprocessing import StandardScaler

    import modeldb_core
    from modeldb_core.artifact_store import ArtifactStore
    from modeldb_core.sklearn import autolog
    from modeldb_core.web import create_app

    uri = f"sqlite:///{tmp_path / 'modeldb.db'}"
    artifacts = tmp_path / "artifacts"
    monkeypatch.setenv("MODELDB_ARTIFACTS", str(artifacts))
    client = modeldb_core.configure(uri=uri)
    autolog()
    try:
        union = FeatureUnion([(f"scale_with_a_long_step_name_{i}", StandardScaler()) for i in range(80)])
        model = Pipeline([("features", union), ("ridge", Ridge())])
        rng = np.random.default_rng(0)
        model.fit(rng.random((20, 3)), rng.random(20))
    finally:
        autolog(disable=True)
        client.close()
        _forget_client()
    with TestClient(create_app(uri)) as app:
        run = app.get("/api/runs", params={"filter": 'tags."sklearn.estimator_class" = "Pipeline"'}).json()["runs"][0]
        digest = run["tags"]["sklearn.pipeline_graph_artifact"]
        run_id = run["run"]["id"]
        graph = app.get(f"/api/runs/{run_id}").json()["estimator_graph"]
        assert len(graph["nodes"]) > 80
        # The blob replaced by a link out of the artifact store: refused, not followed.
        blob = ArtifactStore(artifacts).path(digest)
        outside = tmp_path / "outside.json"
        outside.write_bytes(blob.read_bytes())
        os.chmod(blob, 0o644)
        blob.unlink()
        blob.symlink_to(outside)
        assert app.get(f"/api/runs/{run_id}").json()["estimator_graph"] is None
        # A regular file whose content no longer matches its hash: refused too.
        blob.unlink()
        blob.write_text(json.dumps({"nodes": [{"id": "TAMPERED"}], "edges": []}))
        assert app.get(f"/api/runs/{run_id}").json()["estimator_graph"] is None


@pytest.mark.parametrize("digest", ["../../etc/passwd", "sha256:" + "0" * 63, "sha256:" + "g" * 64,
                                    "sha256:" + "A" * 64])
def test_malformed_hashes_never_become_paths(tmp_path, digest):
    from modeldb_core.web.estimators import read_blob

    assert read_blob(digest, root=tmp_path) is None
