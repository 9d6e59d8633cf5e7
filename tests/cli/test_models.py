"""``modeldb runs models`` and ``modeldb best`` under the model-centric rule (docs/models.md),
on SQLite and PostgreSQL.

In the ``pricing`` project of conftest.py, the first ``train`` run writes ``model_a.bin`` and
an ``evaluate`` run reads it and logs ``auc``; the second ``train`` run writes no model.
"""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime


def test_models_lists_one_row_per_model_with_its_evaluations_metrics(tracked, modeldb):
    code, out, err = modeldb("--uri", tracked.uri, "runs", "models", "-p", "pricing", "--json")
    assert code == 0, err
    models = json.loads(out)
    assert len(models) == 1
    model = models[0]
    assert model["model"].startswith("model_a.bin@") and model["training_run"] == tracked.train_a
    assert model["evaluation_runs"] == [tracked.evaluate]
    assert model["metrics"] == {"rmse": 0.8, "auc": 0.91}
    assert model["metric_runs"]["auc"] == tracked.evaluate
    assert model["params"] == {"model": "rf", "lr": 0.1, "depth": 9}
    assert model["model_type"] == "rf" and model["training_data"][0].startswith("clean.csv@")
    assert model["notes"] == ["first try with the holiday features"]
    assert datetime.fromisoformat(model["trained_at"]).utcoffset() is not None
    code, out, _ = modeldb("--uri", tracked.uri, "runs", "models", "-p", "pricing")
    assert code == 0
    header, _, row = out.splitlines()[:3]
    assert header.split()[:4] == ["model", "model_type", "training_run", "training_data"]
    assert "metrics.rmse" in header and "metrics.auc" in header and "0.91" in row


def test_models_filter_sort_columns_and_csv(tracked, modeldb):
    base = ("--uri", tracked.uri, "runs", "models", "-p", "pricing")
    code, out, _ = modeldb(*base, "-f", "metrics.auc > 0.9 and params.lr = 0.1", "--csv",
                           "-c", "params.lr", "-c", "auc")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 1 and rows[0]["params.lr"] == "0.1" and rows[0]["metrics.auc"] == "0.91"
    assert datetime.fromisoformat(rows[0]["trained_at"]).utcoffset() is not None
    code, out, _ = modeldb(*base, "-f", "metrics.auc > 0.95")
    assert (code, out) == (0, "No model matches.\n")
    code, _, err = modeldb(*base, "-f", "metrics.acu > 0.5")
    assert "no run has a metric named 'acu' (did you mean metrics.auc?)" in err
    code, out, _ = modeldb(*base, "-s", "holiday", "--json")
    assert [m["training_run"] for m in json.loads(out)] == [tracked.train_a]
    code, out, _ = modeldb(*base, "-g", "model", "--json")
    # The main metric of pricing is auc: the metric its evaluation runs logged.
    assert json.loads(out) == [{"params.model": "rf", "models": 1, "auc.best": 0.91, "auc.mean": 0.91,
                                "best_model": json.loads(modeldb(*base, "--json")[1])[0]["model"]}]
    code, _, err = modeldb(*base, "--json", "--csv")
    assert code == 2 and "--json and --csv cannot be used together" in err


def test_models_names_the_project_it_needs(tracked, modeldb):
    code, _, err = modeldb("--uri", tracked.uri, "runs", "models")
    assert code == 2 and "name a project with --project (-p): one of churn, pricing" in err
    code, _, err = modeldb("--uri", tracked.uri, "runs", "models", "-p", "pricin")
    assert code == 1 and "no project named 'pricin' (did you mean 'pricing'?)" in err
    code, out, _ = modeldb("--uri", tracked.uri, "runs", "models", "-p", "churn")
    assert code == 0 and "No run of this project wrote a model" in out


def test_best_shows_the_training_params_of_the_model_an_evaluation_judged(tracked, modeldb):
    code, out, _ = modeldb("--uri", tracked.uri, "best", "-m", "auc", "--max")
    assert code == 0
    assert out.startswith(f"Best run by auc (highest): run {tracked.evaluate} evaluate")
    assert f"Model trained by run {tracked.train_a} train" in out
    assert "lr" in out and "0.1" in out
    code, out, _ = modeldb("--uri", tracked.uri, "best", "-m", "metrics.auc", "--max", "--json")
    found = json.loads(out)
    assert found["id"] == tracked.evaluate and found["training_run"]["id"] == tracked.train_a
    assert found["training_run"]["params"]["lr"] == 0.1
    # A run that evaluated no model keeps its own params.
    _, out, _ = modeldb("--uri", tracked.uri, "best", "-m", "rmse")
    assert "Model trained by" not in out


def test_best_compares_every_spelling_of_a_metric(store_uri, modeldb):
    import modeldb_core
    from modeldb_core import start_run

    client = modeldb_core.configure(uri=store_uri)
    try:
        with start_run("by_hand", project="aligned", phase="evaluation", parent=None) as run:
            run.log_metric("rmse", 0.6)
            by_hand = run.id
        with start_run("Ridge", project="aligned", phase="training", parent=None) as run:
            run.log_metric("root_mean_squared_error", 0.5)
            sklearn_run = run.id
    finally:
        client.close()
    for spelling in ("rmse", "metrics.rmse", "root_mean_squared_error"):
        code, out, _ = modeldb("--uri", store_uri, "best", "-m", spelling, "--json")
        assert code == 0 and json.loads(out)["id"] == sklearn_run, spelling
    code, out, _ = modeldb("--uri", store_uri, "best", "-m", "rmse", "--max", "--json")
    assert json.loads(out)["id"] == by_hand
