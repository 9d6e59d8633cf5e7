"""``/api/projects`` and the projects page are bounded and paged (issue 15's rule for lists),
on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest


@pytest.fixture
def web(store_uri):
    import modeldb_core
    from fastapi.testclient import TestClient

    from modeldb_core import start_run
    from modeldb_core.web import create_app

    client = modeldb_core.configure(uri=store_uri)
    try:
        for name in ("delta", "alpha", "echo", "charlie", "bravo"):
            with start_run("fit", project=name, parent=None) as run:
                run.log_metric("rmse", 1.0)
        with start_run("wide", project="foxtrot", parent=None) as run:
            for i in range(205):
                run.log_metric(f"m{i:03d}", float(i))
    finally:
        client.close()
        import modeldb_core.client as client_module

        client_module._client = None
    with TestClient(create_app(store_uri)) as app:
        yield app


def test_projects_come_a_page_at_a_time(web):
    names, offset = [], 0
    while offset is not None:
        page = web.get("/api/projects", params={"limit": 2, "offset": offset}).json()
        assert page["total"] == 6 and len(page["projects"]) <= 2 and page["offset"] == offset
        names += [p["name"] for p in page["projects"]]
        offset = page["more"]["offset"] if page["more"] else None
    assert names == ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]
    default = web.get("/api/projects").json()
    assert len(default["projects"]) == 6 and default["more"] is None
    wide = next(p for p in default["projects"] if p["name"] == "foxtrot")
    assert len(wide["metrics"]) == 200 and wide["metrics_total"] == 205
    for bad in ({"limit": 0}, {"limit": 1001}, {"offset": -1}, {"offset": "x"}):
        answer = web.get("/api/projects", params=bad)
        assert answer.status_code == 422, bad
        assert list(bad)[0] in answer.json()["error"]["message"]


def test_the_projects_page_links_to_the_next_page(web):
    first = web.get("/", params={"limit": 4}).text
    assert first.count('class="project-link"') == 4 and "1–4 of 6 projects" in first
    assert 'href="/?offset=4&amp;limit=4"' in first
    second = web.get("/", params={"offset": 4, "limit": 4}).text
    assert second.count('class="project-link"') == 2 and 'id="next-page"' not in second
    assert "echo" in second and "foxtrot" in second and 'id="first-page"' in second
    assert 'id="projects-pager"' not in web.get("/").text  # six projects fit the default page
