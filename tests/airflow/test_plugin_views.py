"""The plugin as Airflow sees it: listed by ``airflow plugins``, and its views
served by Airflow's own API app, only to authenticated Airflow users."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from airflow.sdk import dag, task

MOUNT = "/modeldb"


@dag(dag_id="mdb_viewed", schedule=None)
def viewed():
    @task
    def score_model() -> float:
        import modeldb_core

        modeldb_core.log_metric("auc", 0.91)
        return 0.91

    score_model()


VIEWED = viewed()


def test_airflow_plugins_lists_the_modeldb_plugin(airflow_db):
    airflow = Path(sys.executable).with_name("airflow")
    done = subprocess.run([str(airflow), "plugins", "-o", "json"], capture_output=True, text=True,
                          env=os.environ.copy())
    assert done.returncode == 0, done.stderr
    plugins = {p["name"]: p for p in json.loads(done.stdout)}
    plugin = plugins["modeldb"]
    assert "airflow.plugins" in plugin["source"]                       # the entry point, not a file
    assert plugin["listeners"] == ["modeldb_core.integrations.airflow.listener.ModelDBListener"]
    assert [(a["name"], a["url_prefix"]) for a in plugin["fastapi_apps"]] == [("ModelDB", MOUNT)]
    nav = {v["name"]: v["href"] for v in plugin["external_views"] if v["destination"] == "nav"}
    assert nav == {"ModelDB": f"{MOUNT}/", "ModelDB models": f"{MOUNT}/models"}  # the registry, too
    views = {v["destination"]: v for v in plugin["external_views"]}
    assert {"dag", "dag_run", "task", "task_instance"} <= set(views)
    assert "{RUN_ID}" in views["task_instance"]["href"] and "{TASK_ID}" in views["task_instance"]["href"]
    assert plugin["appbuilder_views"] == []                             # no FAB provider needed


@pytest.fixture(scope="module")
def views_store(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('views') / 'modeldb.db'}"


@pytest.fixture(scope="module")
def api(airflow_db):
    """Airflow's API server app (the one ``airflow api-server`` serves), as a test client."""
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    with TestClient(create_app(), follow_redirects=False) as client:
        yield client


@pytest.fixture
def recorded(api, views_store, run_dag, monkeypatch):
    """A tracked DAG run in the store the mounted app reads."""
    import modeldb_core

    monkeypatch.setenv("MODELDB_URI", views_store)
    client = modeldb_core.configure(uri=views_store)
    dr = run_dag(VIEWED)
    # The mounted app reads with a store of its own: this process's writer must be done first.
    assert client.flush(60)
    yield dr, client
    client.close()


def _token(role: str | None = "admin", expires_in: int | None = None) -> str:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    user = SimpleAuthManagerUser(username=role or "nobody", role=role)
    manager = get_auth_manager()
    if expires_in is None:
        return manager.generate_jwt(user)
    return manager.generate_jwt(user, expiration_time_in_seconds=expires_in)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_mounted_app_refuses_requests_without_an_airflow_login(api, recorded):
    for path in (f"{MOUNT}/", f"{MOUNT}/api/runs", f"{MOUNT}/airflow/dag/mdb_viewed"):
        assert api.get(path).status_code == 401, path
    assert api.get(f"{MOUNT}/api/runs", headers=_bearer("not-a-jwt")).status_code == 403
    forged = _token("admin")[:-4] + "AAAA"
    assert api.get(f"{MOUNT}/api/runs", headers=_bearer(forged)).status_code == 403
    assert api.get(f"{MOUNT}/api/runs", headers=_bearer(_token(None))).status_code == 403  # no role


def test_an_expired_token_is_refused(api, recorded):
    from airflow.configuration import conf

    # Expired by more than the validator's leeway: no sleeping needed.
    token = _token("admin", expires_in=-(conf.getint("api_auth", "jwt_leeway") + 60))
    assert api.get(f"{MOUNT}/api/runs", headers=_bearer(token)).status_code == 401


def test_a_logged_in_user_sees_modeldb_inside_airflow(api, recorded):
    dr, _ = recorded
    token = _token("viewer")
    page = api.get(f"{MOUNT}/", headers=_bearer(token))
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert "ModelDB" in page.text

    runs = api.get(f"{MOUNT}/api/runs", headers=_bearer(token)).json()["runs"]
    mine = [r for r in runs if r["run"]["external_id"] == f"mdb_viewed/{dr.run_id}/score_model"]
    assert len(mine) == 1
    assert mine[0]["run"]["orchestrator"] == "airflow"
    assert mine[0]["metrics"]["auc"] == pytest.approx(0.91)
    models = api.get(f"{MOUNT}/models", headers=_bearer(token))  # the registry, behind Airflow's login
    assert models.status_code == 200 and "text/html" in models.headers["content-type"]
    assert api.get(f"{MOUNT}/models").status_code == 401

    # The UI's session cookie works as well as a bearer token.
    api.cookies.set("_token", _token("admin"))
    try:
        assert api.get(f"{MOUNT}/api/runs").status_code == 200
    finally:
        api.cookies.clear()


def test_links_from_airflow_lead_to_the_runs_and_their_lineage(api, recorded):
    dr, client = recorded
    [run] = [r for r in client.store.list_runs(limit=50) if r.external_id.split("/")[1] == dr.run_id]
    headers = _bearer(_token("admin"))

    # A task instance with one try goes straight to its run page.
    ti = api.get(f"{MOUNT}/airflow/task_instance/mdb_viewed/{dr.run_id}/score_model/-1", headers=headers)
    assert ti.status_code == 303
    assert ti.headers["location"] == f"{MOUNT}/runs/{run.id}"
    page = api.get(ti.headers["location"], headers=headers)
    assert page.status_code == 200 and "score_model" in page.text

    for path in (f"{MOUNT}/airflow/dag/mdb_viewed", f"{MOUNT}/airflow/dag_run/mdb_viewed/{dr.run_id}",
                 f"{MOUNT}/airflow/task/mdb_viewed/score_model"):
        listing = api.get(path, headers=headers)
        assert listing.status_code == 200, path
        assert f'href="{MOUNT}/runs/{run.id}"' in listing.text
        assert f'href="{MOUNT}/lineage?node=run:{run.id}"' in listing.text
        as_json = api.get(path, headers={**headers, "Accept": "application/json"}).json()
        ids = [r["id"] for r in as_json["runs"]]
        assert ids == [run.id] if "dag_run" in path else run.id in ids
        assert all(r["external_id"].startswith("mdb_viewed/") for r in as_json["runs"])
    lineage = api.get(f"{MOUNT}/lineage?node=run:{run.id}", headers=headers)
    assert lineage.status_code == 200
    empty = api.get(f"{MOUNT}/airflow/dag/no_such_dag", headers=headers)
    assert empty.status_code == 200 and "no run" in empty.text
