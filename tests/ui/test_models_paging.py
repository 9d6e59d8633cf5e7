"""The models table a page at a time (web, API and ``modeldb runs models``), and evaluations
found across projects (docs/models.md), on SQLite and PostgreSQL.

Project ``shop`` trains seven models; project ``audit`` holds one evaluation run that reads
the fourth of them and logs ``holdout_rmse``.
"""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

MODELS = 7


@pytest.fixture
def shop(store_uri, tmp_path):
    import modeldb_core
    from modeldb_core import start_run

    client = modeldb_core.configure(uri=store_uri)
    trained = []
    try:
        for i in range(MODELS):
            with start_run("train", project="shop", phase="training", parent=None,
                           params={"depth": i, "seed": 1}) as run:
                model = tmp_path / f"model_{i}.bin"
                model.write_bytes(bytes([i]) * 32)
                run.log_metric("rmse", 10.0 + i)
                run.log_output(str(model), name="model")
                trained.append(run.id)
        with start_run("audit_model", project="audit", phase="evaluation", parent=None) as run:
            run.log_input(str(tmp_path / "model_3.bin"), name="model")
            run.log_metric("holdout_rmse", 42.5)
            audit = run.id
    finally:
        client.close()
        import modeldb_core.client as client_module

        client_module._client = None
    return store_uri, trained, audit


@pytest.fixture
def web(shop):
    from fastapi.testclient import TestClient

    from modeldb_core.web import create_app

    with TestClient(create_app(shop[0])) as client:
        yield client


def test_the_table_pages_through_every_model_once(shop):
    from modeldb_core.models_table import models_table
    from modeldb_core.store import open_store

    uri, trained, _ = shop
    store = open_store(uri)
    try:
        seen, cursor, pages = [], None, 0
        while True:
            table = models_table(store, "shop", order="params.depth", limit=3, cursor=cursor)
            assert (table.total, table.matched) == (MODELS, MODELS)
            seen += [str(m.training.id) for m in table.models]
            pages += 1
            cursor = table.next_cursor
            if cursor is None:
                break
        assert pages == 3 and seen == [str(i) for i in trained]
        filtered = models_table(store, "shop", filter="params.depth >= 2", limit=2)
        assert (filtered.total, filtered.matched, len(filtered.models)) == (MODELS, MODELS - 2, 2)
        from modeldb_core.errors import QueryError, ValidationError

        with pytest.raises(ValidationError, match="limit.*1 to 1,000"):
            models_table(store, "shop", limit=1001)
        with pytest.raises(QueryError, match="different search"):  # a cursor of another selection
            models_table(store, "shop", filter="params.depth >= 2", cursor=table.cursor_at(3))
    finally:
        store.close()


def test_the_api_and_the_page_are_paged(shop, web):
    _, trained, _ = shop
    first = web.get("/api/projects/shop/trained", params={"limit": 3, "order": "params.depth"}).json()
    assert (first["count"], first["matched"], first["total"], first["offset"]) == (3, MODELS, MODELS, 0)
    second = web.get("/api/projects/shop/trained", params={"limit": 3, "order": "params.depth",
                                                           "cursor": first["next_cursor"]}).json()
    assert second["offset"] == 3
    assert [m["training_run"] for m in first["models"] + second["models"]] == trained[:6]
    assert web.get("/api/projects/shop/trained", params={"limit": 1001}).status_code == 422
    bad = web.get("/api/projects/shop/trained", params={"cursor": "nonsense"})
    assert bad.status_code == 400 and "cursor" in bad.json()["error"]["message"]
    default = web.get("/api/projects/shop/trained").json()
    assert default["count"] == MODELS and default["next_cursor"] is None
    assert "At most 1,000 models a page" in web.get("/api-docs").text  # the documented limit

    page = web.get("/projects/shop/trained", params={"order": "params.depth"}).text
    assert 'id="models-pager"' not in page  # seven models fit one page
    from modeldb_core import models_table

    models_table.PAGE_SIZE, size = 3, models_table.PAGE_SIZE
    try:
        page = web.get("/projects/shop/trained", params={"order": "params.depth"}).text
    finally:
        models_table.PAGE_SIZE = size
    assert "1–3</b> of 7 matching" in page and 'id="next-page"' in page


def test_modeldb_runs_models_takes_a_limit_and_a_cursor(shop):
    from modeldb_core.cli import cli

    uri, trained, _ = shop
    base = ["--uri", uri, "runs", "models", "-p", "shop", "-o", "params.depth"]
    result = CliRunner().invoke(cli, [*base, "--json", "-n", "4"], catch_exceptions=False)
    assert result.exit_code == 0
    assert [m["training_run"] for m in json.loads(result.stdout)] == trained[:4]
    assert "models 1-4 of 7" in result.stderr and "--cursor" in result.stderr
    cursor = result.stderr.split("--cursor ")[1].split()[0]
    rest = CliRunner().invoke(cli, [*base, "--json", "--cursor", cursor], catch_exceptions=False)
    assert [m["training_run"] for m in json.loads(rest.stdout)] == trained[4:]
    table = CliRunner().invoke(cli, base, catch_exceptions=False)
    assert table.exit_code == 0 and len(table.stdout.splitlines()) == 2 + MODELS
    too_many = CliRunner().invoke(cli, [*base, "-n", "5000"])
    assert too_many.exit_code == 1 and "limit" in too_many.stderr and "1,000" in too_many.stderr


def test_an_evaluation_in_another_project_shows_on_the_models_row(shop, web):
    from modeldb_core import models_view
    from modeldb_core.store import open_store

    uri, trained, audit = shop
    store = open_store(uri)
    try:
        models = {str(m.training.id): m for m in models_view.trained_models(store, "shop")}
        audited = models[str(trained[3])]
        assert [str(e.id) for e in audited.evaluations] == [str(audit)]
        assert audited.metrics["holdout_rmse"] == 42.5 and audited.metric_runs["holdout_rmse"] == str(audit)
        assert all(not m.evaluations for k, m in models.items() if k != str(trained[3]))
        # From the evaluating project: its run was judged on a model trained in shop.
        trainers = models_view.training_runs(store, "audit")
        assert {k: str(v.id) for k, v in trainers.items()} == {str(audit): str(trained[3])}
        assert models_view.trained_models(store, "audit") == []
    finally:
        store.close()
    row = next(m for m in web.get("/api/projects/shop/trained").json()["models"]
               if m["training_run"] == trained[3])
    assert row["evaluation_runs"] == [audit] and row["metrics"]["holdout_rmse"] == 42.5
    points = web.get("/api/projects/audit/points", params={"metric": "holdout_rmse",
                                                           "params": ["depth"]}).json()["points"]
    assert points["trained_by"] == [trained[3]] and points["params"] == [{"depth": 3}]


def test_a_page_starts_after_the_last_model_of_the_page_before(shop, tmp_path):
    """Keyset paging: a model trained between two pages that sorts before the cursor neither
    repeats a model on the next page nor hides one (an offset would shift by one)."""
    import modeldb_core
    import modeldb_core.client as client_module
    from modeldb_core import start_run
    from modeldb_core.models_table import models_table
    from modeldb_core.store import open_store

    uri, trained, _ = shop
    store = open_store(uri)
    try:
        first = models_table(store, "shop", order="params.depth", limit=3)
        assert [m.params["depth"] for m in first.models] == [0, 1, 2]
        client = modeldb_core.configure(uri=uri)
        try:
            with start_run("train", project="shop", phase="training", parent=None,
                           params={"depth": -1, "seed": 1}) as run:
                model = tmp_path / "model_new.bin"
                model.write_bytes(b"new" * 11)
                run.log_output(str(model), name="model")
        finally:
            client.close()
            client_module._client = None
        second = models_table(store, "shop", order="params.depth", limit=3, cursor=first.next_cursor)
        assert [m.params["depth"] for m in second.models] == [3, 4, 5]
        assert (second.offset, second.matched, second.total) == (3, MODELS + 1, MODELS + 1)
    finally:
        store.close()
