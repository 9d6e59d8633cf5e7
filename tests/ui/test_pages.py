"""The server-rendered pages: content, escaping, errors, links under a mount prefix."""
from __future__ import annotations

import re
import subprocess
import sys

XSS = "<script>alert(1)</script>"  # the same values as conftest.py
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
PROJECT = "churn"


def test_every_view_renders(app_client, recorded):
    _, ids = recorded
    pages = {
        "/": ["churn", "forecast", "airflow", "auc"],
        f"/projects/{PROJECT}": ["Timeline", "Meta-analysis", 'id="timeline"'],
        f"/runs?project={PROJECT}": ["train_model", "prepare_customers", "Compare selected"],
        f"/runs/{ids['train1']}": ["learning_rate", "customers.csv", "Code version", "Environment",
                                   'data-series="loss"'],
        f"/runs/{ids['failed']}": ["ZeroDivisionError", "Traceback"],
        f"/lineage?node=run:{ids['eval']}": ["prepare_customers", "train_model", "airflow"],
        f"/compare?ids={ids['train0']}&ids={ids['train1']}": ["learning_rate", 'class="differs"'],
    }
    for path, expected in pages.items():
        response = app_client.get(path)
        assert response.status_code == 200, path
        for text in expected:
            assert text in response.text, (path, text)


def test_table_filter_sort_columns_and_state_in_the_url(app_client, recorded):
    _, ids = recorded
    html = app_client.get("/runs", params={"project": PROJECT, "filter": "metrics.auc >= 0.7",
                                           "order": "metrics.auc desc",
                                           "cols": "id,name,params.learning_rate,metrics.auc"}).text
    rows = re.findall(r'<tr data-run="([0-9a-f-]+)"', html)
    assert rows == [ids["eval"], ids["train2"], ids["train1"], ids["train0"]]
    header = html[html.index("<thead>"):html.index("</thead>")]
    assert "learning_rate" in header and "auc" in header and "Phase" not in header
    # The sort links keep the filter and columns, so every view is a shareable address.
    assert "filter=metrics.auc+%3E%3D+0.7" in header and "cols=id%2Cname" in header


def test_grouped_table_has_a_header_per_group(app_client):
    html = app_client.get("/runs", params={"project": PROJECT, "group": "tags.team"}).text
    headers = re.findall(r'<tr class="group-header"><th[^>]*>\s*tags.team =\s*([^<\n]+)', html)
    assert [h.strip() for h in headers] == ["growth", "risk", "(not set)"]
    assert 'id="groups"' in html


def test_malformed_filter_is_shown_inline(app_client):
    response = app_client.get("/runs", params={"filter": "metrics.auc >> 3"})
    assert response.status_code == 200
    assert 'id="query-error"' in response.text and "position" in response.text
    assert 'aria-invalid="true"' in response.text


def test_values_that_look_like_html_are_escaped_everywhere(app_client, recorded):
    _, ids = recorded
    for path in (f"/runs?project={PROJECT}&cols=name,params.comment,tags.label,notes",
                 f"/runs/{ids['xss']}", f"/runs/{ids['child']}",
                 f"/compare?ids={ids['xss']}&ids={ids['train0']}", f"/lineage?node=run:{ids['xss']}"):
        html = app_client.get(path).text
        assert XSS not in html, path
        assert ESCAPED in html, path


def test_unknown_ids_give_a_404_page(app_client):
    for path in ("/runs/987654", "/runs/01a2301f-eaae-7014-b5b9-63cb47f40ee4", "/projects/no-such-project",
                 "/lineage?node=artifact:987654", "/no/such/page"):
        response = app_client.get(path)
        assert response.status_code == 404, path
        assert "<h1>Not found</h1>" in response.text and "Traceback" not in response.text


def test_a_malformed_parameter_is_a_400_page(app_client):
    response = app_client.get("/runs", params={"limit": "lots"})
    assert response.status_code == 400
    assert "limit" in response.text and "Traceback" not in response.text


def test_no_network_at_run_time(app_client, recorded):
    """Every script, stylesheet and image comes from the app itself: no CDN."""
    _, ids = recorded
    for path in ("/", f"/projects/{PROJECT}", "/runs", f"/runs/{ids['eval']}",
                 f"/lineage?node=run:{ids['eval']}", "/api-docs"):
        html = app_client.get(path).text
        for url in re.findall(r'(?:src|href)="([^"]*)"', html):
            assert not re.match(r"(https?:)?//", url), (path, url)
    for asset in ("/static/modeldb.js", "/static/modeldb.css"):
        body = app_client.get(asset).text
        assert "http://" not in body.replace("http://www.w3.org/2000/svg", "") and "https://" not in body


def test_links_stay_under_the_mount_point(recorded):
    """Mounted under /modeldb (as inside Airflow), every link carries the prefix."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from modeldb_core.web import create_app

    uri, ids = recorded
    host = FastAPI()
    host.mount("/modeldb", create_app(uri))
    with TestClient(host) as client:
        for path in ("/modeldb/", f"/modeldb/runs/{ids['eval']}", "/modeldb/runs?project=churn"):
            html = client.get(path).text
            links = re.findall(r'(?:src|href|action)="(/[^"]*)"', html)
            assert links and all(link.startswith("/modeldb/") for link in links), path
            assert 'data-base="/modeldb"' in html
        assert client.get("/modeldb/static/modeldb.css").status_code == 200
        assert client.get(f"/modeldb/api/runs/{ids['eval']}").json()["run"]["id"] == ids["eval"]
        assert client.get("/modeldb/runs/987654").status_code == 404


def test_building_the_app_touches_no_database(tmp_path):
    from fastapi.testclient import TestClient

    from modeldb_core.web import create_app

    missing = tmp_path / "not-yet" / "modeldb.db"
    app = create_app(f"sqlite:///{missing}")
    assert not missing.parent.exists()
    with TestClient(app) as client:
        assert client.get("/api/openapi.json").status_code == 200
    assert not missing.parent.exists()


def test_importing_the_package_imports_no_web_framework():
    code = ("import sys, modeldb_core.web; "
            "print(sorted(m for m in ('fastapi', 'starlette', 'uvicorn', 'jinja2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_api_reference_page_is_rendered_from_the_schema(app_client):
    html = app_client.get("/api-docs").text
    for path in ("/api/runs", "/api/runs/{run_id}", "/api/lineage", "/api/compare"):
        assert f"GET {path}</code>" in html, path
    assert "filter" in html and "cursor" in html
    # FastAPI's own docs pages load Swagger/ReDoc from a CDN: they are off.
    assert app_client.get("/api/docs").status_code == 404
    assert app_client.get("/docs").status_code == 404


def test_serve_binds_localhost_by_default():
    import inspect

    from modeldb_core.web import serve

    assert inspect.signature(serve).parameters["host"].default == "127.0.0.1"


def test_artifact_lineage_page_describes_the_version(app_client, recorded):
    _, ids = recorded
    body = app_client.get("/api/lineage", params={"node": f"run:{ids['prep']}", "direction": "down"}).json()
    data = next(n for n in body["nodes"] if n["kind"] == "artifact")
    html = app_client.get("/lineage", params={"node": data["key"]}).text
    section = html[html.index('id="artifact"'):html.index("</section>", html.index('id="artifact"'))]
    assert "customers.csv" in section and "sha256:" in section and "bytes" in section
    assert "train_model" in html and "prepare_customers" in html
