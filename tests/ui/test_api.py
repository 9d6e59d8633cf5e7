"""The JSON API over a real store (SQLite and PostgreSQL), through the ASGI test client."""
from __future__ import annotations

import pytest

XSS = "<script>alert(1)</script>"  # the same values as conftest.py
PROJECT = "churn"
OTHER_PROJECT = "forecast"


def test_projects_summary_counts_runs_pipelines_orchestrators_and_best_metric(app_client):
    projects = {p["name"]: p for p in app_client.get("/api/projects").json()["projects"]}
    assert set(projects) == {PROJECT, OTHER_PROJECT}
    churn = projects[PROJECT]
    assert churn["runs"] == 8
    assert churn["pipelines"] >= 1
    assert {"airflow", "python"} <= set(churn["orchestrators"])
    assert churn["main_metric"]["key"] == "auc"
    assert churn["main_metric"]["goal"] == "max"
    assert churn["main_metric"]["best"] == 0.81
    assert churn["last_activity"] is not None
    assert projects[OTHER_PROJECT]["main_metric"] == {"key": "mape", "goal": "min", "best": 0.12}


def test_project_detail_lists_its_keys(app_client):
    body = app_client.get(f"/api/projects/{PROJECT}").json()
    assert {"auc", "loss", "rows"} <= set(body["keys"]["metrics"])
    assert {"learning_rate", "max_depth"} <= set(body["keys"]["params"])
    assert "team" in body["keys"]["tags"]


def test_points_give_each_runs_metric_and_params(app_client, recorded):
    _, ids = recorded
    url = f"/api/projects/{PROJECT}/points"

    def rows(body):  # the columns back into one dict per point
        cols = body["points"]
        return [{k: cols[k][i] for k in cols} for i in range(body["count"])]

    body = app_client.get(url, params={"metric": "auc", "all_params": True}).json()
    by_run = {p["run_id"]: p for p in rows(body)}
    assert set(by_run) == {ids["train0"], ids["train1"], ids["train2"], ids["eval"], ids["xss"], ids["child"]}
    assert by_run[ids["train1"]]["params"] == {"learning_rate": 0.05, "max_depth": 5, "model": "gbm"}
    assert by_run[ids["train1"]]["value"] == 0.75
    assert body["points"]["started_at"] == sorted(body["points"]["started_at"])
    # The timeline asks for no params, the meta-analysis for one; limit keeps the newest runs.
    assert "params" not in app_client.get(url, params={"metric": "auc"}).json()["points"]
    one = rows(app_client.get(url, params={"metric": "auc", "params": ["max_depth"], "limit": 3}).json())
    assert [p["run_id"] for p in one] == [ids["eval"], ids["xss"], ids["child"]]
    assert all(set(p["params"]) <= {"max_depth"} for p in one)
    nan = app_client.get(url, params={"metric": "calibration"}).json()["points"]
    assert nan["value"] == ["NaN"]


def test_runs_filter_sort_and_cursor_paging(app_client, recorded):
    _, ids = recorded
    first = app_client.get("/api/runs", params={"filter": "metrics.auc >= 0.7", "project": PROJECT,
                                               "order": "metrics.auc desc", "limit": 2}).json()
    assert [r["run"]["id"] for r in first["runs"]] == [ids["eval"], ids["train2"]]
    assert first["runs"][0]["metrics"]["auc"] == 0.81
    assert first["next_cursor"]
    second = app_client.get("/api/runs", params={"filter": "metrics.auc >= 0.7", "project": PROJECT,
                                                "order": "metrics.auc desc", "limit": 2,
                                                "cursor": first["next_cursor"]}).json()
    assert [r["run"]["id"] for r in second["runs"]] == [ids["train1"], ids["train0"]]
    assert second["next_cursor"] is None


def test_free_text_search(app_client, recorded):
    _, ids = recorded
    body = app_client.get("/api/runs", params={"q": "best model"}).json()
    assert [r["run"]["id"] for r in body["runs"]] == [ids["eval"]]


def test_malformed_filter_is_a_400_with_the_parse_error(app_client):
    response = app_client.get("/api/runs", params={"filter": "metrics.auc >> 3"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["kind"] == "query"
    assert error["text"] == "metrics.auc >> 3"
    assert isinstance(error["position"], int)
    assert "position" in error["message"]


def test_group_by_param_counts_and_aggregates(app_client):
    body = app_client.get("/api/runs/groups", params={"group": "params.max_depth", "project": PROJECT,
                                                     "metrics": ["auc"]}).json()
    groups = {g["value"]: g for g in body["groups"]}
    assert groups[5]["count"] == 2
    assert groups[5]["aggregates"]["auc max"] == pytest.approx(0.8)
    assert groups[3]["count"] == 1


def test_run_detail_has_everything_recorded(app_client, recorded):
    _, ids = recorded
    d = app_client.get(f"/api/runs/{ids['train1']}").json()
    assert d["run"]["name"] == "train_model" and d["run"]["status"] == "succeeded"
    assert d["params"] == {"learning_rate": 0.05, "max_depth": 5, "model": "gbm"}
    assert d["metrics"]["auc"] == 0.75
    assert d["series"]["loss"] == 20
    assert d["tags"] == {"team": "growth"}
    assert [i["name"] for i in d["inputs"]] == ["customers"]
    assert d["inputs"][0]["uri"].endswith("customers.csv")
    assert [o["name"] for o in d["outputs"]] == ["model"]
    assert d["code_version"]["source_file"].endswith("conftest.py")
    assert "fastapi" in d["environment"]["packages"]
    assert d["error"] is None


def test_failed_run_shows_its_error_and_nan_travels_as_text(app_client, recorded):
    _, ids = recorded
    failed = app_client.get(f"/api/runs/{ids['failed']}").json()
    assert failed["run"]["status"] == "failed"
    assert failed["error"]["type"] == "ZeroDivisionError"
    assert "1 / 0" in failed["error"]["traceback"]
    evaluation = app_client.get(f"/api/runs/{ids['eval']}").json()
    assert evaluation["metrics"]["calibration"] == "NaN"


def test_parent_and_children(app_client, recorded):
    _, ids = recorded
    parent = app_client.get(f"/api/runs/{ids['xss']}").json()
    assert [c["id"] for c in parent["children"]] == [ids["child"]]
    child = app_client.get(f"/api/runs/{ids['child']}").json()
    assert child["parent"]["id"] == ids["xss"] and child["parent"]["name"] == XSS


def test_metric_series(app_client, recorded):
    _, ids = recorded
    body = app_client.get(f"/api/runs/{ids['train0']}/metrics/loss").json()
    assert [p["step"] for p in body["points"]] == list(range(20))
    assert abs(body["points"][0]["value"] - 1.1) < 1e-9
    assert app_client.get(f"/api/runs/{ids['train0']}/metrics/nope").status_code == 404


def test_lineage_crosses_orchestrators_upstream(app_client, recorded):
    _, ids = recorded
    g = app_client.get("/api/lineage", params={"node": f"run:{ids['eval']}", "direction": "up"}).json()
    runs = {n["id"]: n for n in g["nodes"] if n["kind"] == "run"}
    assert set(runs) == {ids["eval"], ids["train2"], ids["prep"]}
    assert runs[ids["prep"]]["orchestrator"] == "airflow"
    assert runs[ids["prep"]]["depth"] < runs[ids["train2"]]["depth"] < 0
    edges = {(e["source"], e["target"]) for e in g["edges"]}
    model = next(n["key"] for n in g["nodes"] if n["kind"] == "artifact" and "model_2" in n["label"])
    assert (f"run:{ids['train2']}", model) in edges and (model, f"run:{ids['eval']}") in edges


def test_lineage_both_ways_from_an_artifact(app_client, recorded):
    _, ids = recorded
    up = app_client.get("/api/lineage", params={"node": f"run:{ids['prep']}", "direction": "down"}).json()
    data = next(n for n in up["nodes"] if n["kind"] == "artifact")
    both = app_client.get("/api/lineage", params={"node": data["key"]}).json()
    run_ids = {n["id"] for n in both["nodes"] if n["kind"] == "run"}
    assert {ids["prep"], ids["train0"], ids["train1"], ids["train2"], ids["eval"]} <= run_ids


def test_compare_marks_differences(app_client, recorded):
    _, ids = recorded
    body = app_client.get("/api/compare", params={"ids": [ids["train0"], ids["train1"]]}).json()
    rows = {(r["section"], r["key"]): r for r in body["rows"]}
    assert rows[("params", "learning_rate")]["differs"]
    # The recorded values, as `modeldb runs compare --json` gives them (numbers stay numbers).
    assert rows[("params", "learning_rate")]["values"] == [0.1, 0.05]
    assert not rows[("params", "model")]["differs"]
    assert rows[("metrics", "auc")]["differs"]
    assert rows[("outputs", "model")]["differs"]
    assert not rows[("inputs", "customers")]["differs"]  # both read the same version
    assert not rows[("run", "duration")]["differs"]  # always different, never counted
    assert app_client.get("/api/compare", params={"ids": [ids["train0"]]}).status_code == 400


def test_unknown_ids_are_404s(app_client, recorded):
    _, ids = recorded
    for path in ("/api/runs/987654", "/api/projects/no-such-project", "/api/runs/987654/metrics/auc",
                 "/api/lineage?node=run:987654", f"/api/compare?ids={ids['eval']}&ids=987654"):
        response = app_client.get(path)
        assert response.status_code == 404, path
        assert "987654" in response.json()["error"]["message"] or "no-such" in response.json()["error"]["message"]
    assert app_client.get("/api/lineage?node=nonsense").status_code == 400


def test_openapi_documents_the_api(app_client):
    paths = app_client.get("/api/openapi.json").json()["paths"]
    for path in ("/api/projects", "/api/projects/{name}/points", "/api/runs", "/api/runs/groups",
                 "/api/runs/{run_id}", "/api/runs/{run_id}/metrics/{key}", "/api/lineage", "/api/compare"):
        assert path in paths, path
    assert not any(p for p in paths if not p.startswith("/api/"))


def test_the_app_is_read_only(app_client):
    from starlette.routing import Route

    for route in app_client.app.routes:
        if isinstance(route, Route):
            assert route.methods <= {"GET", "HEAD"}, route.path
    assert app_client.post("/api/runs", json={}).status_code == 405
    assert app_client.delete("/api/runs/1").status_code == 405
