"""The model-centric view (docs/models.md) on SQLite and PostgreSQL: the rule, the models table's
JSON and page, and the timeline's points carrying the training run's params.

The ``churn`` project of conftest.py: three ``train_model`` runs write a model each; one
``evaluate`` run reads the third model and logs ``auc`` 0.81 (its trainer logged 0.80) and a note.
"""
from __future__ import annotations

import pytest

from modeldb_core import models_view
from modeldb_core.models_table import models_table
from modeldb_core.store import open_store


@pytest.fixture(scope="module")
def opened(recorded):
    uri, ids = recorded
    store = open_store(uri)
    yield store, ids
    store.close()


def test_a_model_is_tied_to_its_training_run_and_the_runs_that_evaluated_it(opened):
    store, ids = opened
    models = {str(m.training.id): m for m in models_view.trained_models(store, "churn")}
    assert sorted(models) == sorted(str(ids[f"train{i}"]) for i in range(3))
    evaluated = models[str(ids["train2"])]
    assert [str(e.id) for e in evaluated.evaluations] == [str(ids["eval"])]
    # Metrics of a model: its training run's, then its evaluations' (which win for the same name).
    assert evaluated.metrics["auc"] == pytest.approx(0.81)
    assert evaluated.metric_runs["auc"] == str(ids["eval"])
    assert evaluated.metric_runs["loss"] == str(ids["train2"])
    # Params: the training run's. Training data: what the training run read, as name@version.
    assert evaluated.params["learning_rate"] == 0.01
    assert [models_view.version_label(io.artifact, io.name).split("@")[0]
            for io in evaluated.training_data] == ["customers.csv"]
    assert evaluated.label.startswith("model_2.bin@")
    assert [n.text for n in evaluated.notes] == ["best model so far"]
    # The other models have no evaluation: their own auc stands.
    assert models[str(ids["train0"])].metrics["auc"] == pytest.approx(0.70)
    # The evaluation run is linked to the run that trained what it read.
    trainers = models_view.training_runs(store, "churn")
    assert {k: str(v.id) for k, v in trainers.items()} == {str(ids["eval"]): str(ids["train2"])}


def test_metric_names_are_aligned_across_scikit_learn_and_user_code():
    assert models_view.canonical_metric("root_mean_squared_error") == "rmse"
    assert models_view.canonical_metric("r2_score") == "r2"
    assert models_view.canonical_metric("rmse") == "rmse"
    assert models_view.metric_spellings("rmse") == ["rmse", "root_mean_squared_error"]
    assert models_view.metric_spellings("root_mean_squared_error")[0] == "rmse"
    # A run that logged both names keeps the one it logged under the short name.
    assert models_view.aligned_metrics({"root_mean_squared_error": 2.0, "rmse": 1.0, "r2_score": 0.5}) \
        == {"rmse": 1.0, "r2": 0.5}


def test_the_table_filters_sorts_groups_and_searches_models(opened):
    store, ids = opened
    table = models_table(store, "churn")
    assert table.main_metric == "auc" and table.goal == "max"
    assert table.metrics[0] == "auc"
    assert table.params[:2] == ["learning_rate", "max_depth"] or \
        sorted(table.params[:2]) == ["learning_rate", "max_depth"]
    # Default order: the main metric, best first (auc: highest first).
    assert [str(m.training.id) for m in table.models] == [str(ids[k]) for k in ("train2", "train1", "train0")]
    found = models_table(store, "churn", filter="params.max_depth = 5 and metrics.auc < 0.8")
    assert [str(m.training.id) for m in found.models] == [str(ids["train1"])]
    assert models_table(store, "churn", filter="metrics.auc >= 0.81").models[0].training.id == ids["train2"]
    ordered = models_table(store, "churn", order="-params.learning_rate")
    assert [m.params["learning_rate"] for m in ordered.models] == [0.1, 0.05, 0.01]
    grouped = models_table(store, "churn", group="params.max_depth")
    groups = {g["value"]: g for g in grouped.groups}
    assert groups["5"]["models"] == 2 and groups["5"]["max"] == pytest.approx(0.81)
    assert groups["3"]["models"] == 1
    assert [str(m.training.id) for m in models_table(store, "churn", q="best model so").models] \
        == [str(ids["train2"])]
    assert models_table(store, "churn", q="nothing like this").models == []


def test_the_models_api_and_page(app_client, recorded):
    _, ids = recorded
    answer = app_client.get("/api/projects/churn/trained", params={"order": "metrics.auc"})
    assert answer.status_code == 200
    data = answer.json()
    assert data["main_metric"] == "auc" and data["count"] == data["total"] == 3
    assert [m["training_run"] for m in data["models"]] == [str(ids[k]) for k in ("train0", "train1", "train2")]
    row = data["models"][2]
    assert row["evaluation_runs"] == [str(ids["eval"])]
    assert row["model_type"] == "gbm" and row["training_data"][0].startswith("customers.csv@")
    assert row["metrics"]["auc"] == 0.81 and row["params"]["learning_rate"] == 0.01
    assert row["model_file"].endswith("model_2.bin") and row["notes"] == ["best model so far"]
    bad = app_client.get("/api/projects/churn/trained", params={"filter": "metrics.auc <"})
    assert bad.status_code == 400 and bad.json()["error"]["position"] == 13
    assert app_client.get("/api/projects/nope/trained").status_code == 404
    page = app_client.get("/projects/churn/trained", params={"group": "params.max_depth"})
    assert page.status_code == 200
    assert 'id="models-table"' in page.text and "model_2.bin@" in page.text and 'id="groups"' in page.text
    inline = app_client.get("/projects/churn/trained", params={"filter": "metrics.auc <"})
    assert inline.status_code == 200 and "Cannot use this filter" in inline.text
    assert "/projects/churn/trained" in app_client.get("/projects/churn").text


def test_an_evaluation_point_carries_the_params_of_the_training_run(app_client, recorded):
    _, ids = recorded
    data = app_client.get("/api/projects/churn/points",
                          params={"metric": "auc", "all_params": "true"}).json()["points"]
    at = data["run_id"].index(str(ids["eval"]))
    assert data["trained_by"][at] == str(ids["train2"])
    assert data["params"][at]["learning_rate"] == 0.01 and data["params"][at]["max_depth"] == 5
    own = data["run_id"].index(str(ids["train0"]))
    assert data["trained_by"][own] is None and data["params"][own]["learning_rate"] == 0.1
    chosen = app_client.get("/api/projects/churn/points",
                            params={"metric": "auc", "params": "max_depth"}).json()["points"]
    assert chosen["params"][chosen["run_id"].index(str(ids["eval"]))] == {"max_depth": 5}


def test_a_loss_column_sorts_lowest_first_and_words_agree_with_their_numbers(app_client):
    page = app_client.get("/runs", params={"project": "churn", "cols": "metrics.loss,metrics.auc"}).text
    assert "order=metrics.loss+asc" in page  # the first click on a loss: best (lowest) first
    assert "order=metrics.auc+desc" in page  # on a score: highest first
    project = app_client.get("/projects/forecast").text
    assert "1 run</b>" in project and "1 runs" not in project
    docs = app_client.get("/api-docs").text
    assert "<code>points.run_id[i]</code>" in docs and "`points.run_id[i]`" not in docs
