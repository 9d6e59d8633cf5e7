"""autolog() under code written the way scikit-learn's gallery writes it (issue 19).

Real fits on the datasets scikit-learn ships, real SQLite, and a fresh Python
process to load what was pickled while autolog was on.
"""
from __future__ import annotations

import json
import logging
import pickle
import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pytest
import sklearn.metrics
import sklearn.model_selection
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import classification_report, log_loss, make_scorer
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import LabelEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.parallel import Parallel, delayed

import modeldb_core as mdb
from modeldb_core.artifact_store import ArtifactStore
from modeldb_core.sklearn import autolog, run_of
from modeldb_core.sklearn import evaluation
from modeldb_core.sklearn.recorder import CV_FUNCTIONS


@pytest.fixture
def autologged(sqlite_uri):
    client = mdb.configure(uri=sqlite_uri)
    autolog()
    yield client
    autolog(disable=True)
    client.close()


def runs_of(client):
    return sorted(client.store.list_runs(limit=1000), key=lambda r: r.id)


def load_in_a_fresh_process(tmp_path, check: str) -> dict:
    """Run ``check`` in a new interpreter that never imports ModelDB; it prints a JSON verdict."""
    script = tmp_path / "load.py"
    script.write_text(textwrap.dedent(check) + textwrap.dedent("""
        assert not [m for m in sys.modules if m.startswith("modeldb")], "loading needed ModelDB"
        print(json.dumps(verdict))
    """))
    done = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- pickling --------------------------------------------------------------------
def test_every_patched_function_scorer_and_search_pickles_and_loads_in_a_fresh_process(autologged, tmp_path):
    metric_names = sorted(evaluation._patched_functions)
    assert {"accuracy_score", "mean_squared_error", "f1_score", "roc_auc_score", "log_loss"} <= set(metric_names)
    patched = {name: getattr(sklearn.metrics, name) for name in metric_names}
    patched.update({name: getattr(sklearn.model_selection, name) for name in CV_FUNCTIONS})
    assert all(getattr(f, "__modeldb_patched__", False) for f in patched.values())

    # Gallery: "Demonstration of multi-metric evaluation on cross_val_score and GridSearchCV",
    # with a scorer made from a patched metric function.
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    scoring = {"AUC": "roc_auc", "Accuracy": make_scorer(sklearn.metrics.accuracy_score)}
    search = GridSearchCV(make_pipeline(StandardScaler(), LogisticRegression()),
                          param_grid={"logisticregression__C": [0.1, 1.0]}, scoring=scoring, refit="AUC", cv=3)
    search.fit(X_train, y_train)
    single = GridSearchCV(make_pipeline(StandardScaler(), LogisticRegression()),
                          {"logisticregression__C": [0.5, 1.0]},
                          scoring=make_scorer(sklearn.metrics.f1_score), cv=3).fit(X_train, y_train)

    scorers = {}
    for name, function in patched.items():
        if name not in CV_FUNCTIONS:
            scorers[name] = make_scorer(function)
    with open(tmp_path / "functions.pkl", "wb") as fh:
        pickle.dump(patched, fh)
    joblib.dump(scorers, tmp_path / "scorers.joblib")
    joblib.dump(search, tmp_path / "search.joblib")
    with open(tmp_path / "single.pkl", "wb") as fh:
        pickle.dump(single, fh)
    np.save(tmp_path / "X_test.npy", X_test)
    np.save(tmp_path / "y_test.npy", y_test)

    # ModelDB's own model save worked too: the searches' runs hold the fitted models.
    store = ArtifactStore(autologged.settings.artifacts)
    saved = {}
    for label, est in (("search", search), ("single", single)):
        detail = autologged.store.get_run_detail(run_of(est).id)
        (model,) = [io.artifact for io in detail.outputs if io.name == "model"]
        saved[label] = str(store.path(model.content_hash))
    (tmp_path / "saved.json").write_text(json.dumps(saved))
    expected = {"search": float(search.score(X_test, y_test)), "single": float(single.score(X_test, y_test))}
    (tmp_path / "expected.json").write_text(json.dumps(expected))

    verdict = load_in_a_fresh_process(tmp_path, """
        import json, pickle, sys
        from pathlib import Path
        import joblib, numpy as np, sklearn.metrics, sklearn.model_selection
        folder = Path(sys.argv[1])
        X_test, y_test = np.load(folder / "X_test.npy"), np.load(folder / "y_test.npy")
        functions = pickle.loads((folder / "functions.pkl").read_bytes())
        scorers = joblib.load(folder / "scorers.joblib")
        search = joblib.load(folder / "search.joblib")
        single = pickle.loads((folder / "single.pkl").read_bytes())
        saved = {k: pickle.loads(Path(p).read_bytes()) for k, p in json.loads((folder / "saved.json").read_text()).items()}
        home = lambda name: getattr(sklearn.metrics, name, None) or getattr(sklearn.model_selection, name)
        verdict = {
            "functions_are_sklearns": sorted(n for n, f in functions.items() if f is home(n)),
            "scorers_hold_sklearns": sorted(n for n, s in scorers.items() if s._score_func is home(n)),
            "search": search.score(X_test, y_test),
            "single": single.score(X_test, y_test),
            "saved_search": saved["search"].score(X_test, y_test),
            "saved_single": saved["single"].score(X_test, y_test),
            "accuracy": functions["accuracy_score"](y_test, search.predict(X_test)),
        }
    """)
    assert verdict["functions_are_sklearns"] == sorted(patched)
    assert verdict["scorers_hold_sklearns"] == sorted(scorers)
    for key in ("search", "saved_search"):
        assert verdict[key] == pytest.approx(expected["search"])
    for key in ("single", "saved_single"):
        assert verdict[key] == pytest.approx(expected["single"])
    assert verdict["accuracy"] == pytest.approx(sklearn.metrics.accuracy_score(y_test, search.predict(X_test)))


def test_a_metric_imported_while_autolog_was_on_pickles_after_disable(sqlite_uri, tmp_path, monkeypatch):
    client = mdb.configure(uri=sqlite_uri)
    (tmp_path / "team_metrics.py").write_text(textwrap.dedent("""
        from sklearn.metrics import f1_score, make_scorer, mean_squared_error

        macro_f1 = make_scorer(f1_score, average="macro")
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    autolog()
    import team_metrics

    assert getattr(team_metrics.f1_score, "__modeldb_patched__", False)
    autolog(disable=True)

    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=1000).fit(X, y)
    predicted = model.predict(X)
    # Still a name for the metric after disable: it computes the same and records nothing.
    assert team_metrics.f1_score(y, predicted, average="macro") == sklearn.metrics.f1_score(
        y, predicted, average="macro")
    assert client.store.list_runs() == []
    grid = GridSearchCV(LogisticRegression(max_iter=1000), {"C": [0.1, 1.0]}, scoring=team_metrics.macro_f1,
                        cv=3).fit(X, y)
    (tmp_path / "later.pkl").write_bytes(pickle.dumps({
        "f1": team_metrics.f1_score, "mse": team_metrics.mean_squared_error, "scorer": team_metrics.macro_f1,
        "grid": grid}))
    joblib.dump(team_metrics.macro_f1, tmp_path / "scorer.joblib")
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    client.close()

    verdict = load_in_a_fresh_process(tmp_path, """
        import json, pickle, sys
        from pathlib import Path
        import joblib, numpy as np, sklearn.metrics
        folder = Path(sys.argv[1])
        X, y = np.load(folder / "X.npy"), np.load(folder / "y.npy")
        found = pickle.loads((folder / "later.pkl").read_bytes())
        scorer = joblib.load(folder / "scorer.joblib")
        verdict = {
            "f1": found["f1"] is sklearn.metrics.f1_score,
            "mse": found["mse"] is sklearn.metrics.mean_squared_error,
            "scorer": found["scorer"]._score_func is sklearn.metrics.f1_score and scorer._score_func is sklearn.metrics.f1_score,
            "grid": found["grid"].score(X, y),
        }
    """)
    assert verdict == {"f1": True, "mse": True, "scorer": True, "grid": pytest.approx(grid.score(X, y))}


def test_pickled_bound_methods_and_cloned_scorers_under_autolog(autologged):
    X, y = load_iris(return_X_y=True)
    pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=1000))]).fit(X, y)
    # A bound conditional method (available_if) pickles as getattr(pipe, "predict_proba").
    proba = pickle.loads(pickle.dumps(pipe.predict_proba))
    np.testing.assert_allclose(proba(X), pipe.predict_proba(X))
    # clone() deep-copies a scorer parameter and checks it got the same thing back.
    search = GridSearchCV(LogisticRegression(max_iter=1000), {"C": [1.0]},
                          scoring=make_scorer(sklearn.metrics.balanced_accuracy_score), cv=3)
    clone = sklearn.base.clone(search)
    assert clone.scoring._score_func is sklearn.metrics.balanced_accuracy_score


# -- what is a run ---------------------------------------------------------------
def test_fits_inside_scikit_learns_own_functions_are_not_runs(autologged):
    # Gallery: "Recognizing hand-written digits"-style evaluation of a fitted classifier.
    X, y = load_iris(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=42)
    clf = LogisticRegression(max_iter=1000).fit(X_train, y_train)
    y_pred = clf.predict(X_test)
    report = classification_report(y_test, y_pred)          # fits a LabelEncoder inside
    loss = log_loss(y_test, clf.predict_proba(X_test))      # fits a LabelBinarizer inside
    assert "precision" in report and loss > 0

    # A meta-estimator's inner fits belong to its run; the user's own LabelEncoder is a run.
    ovr = OneVsRestClassifier(LogisticRegression(max_iter=1000)).fit(X_train, y_train)
    LabelEncoder().fit(["setosa", "versicolor", "virginica"])
    # The user's fits handed to joblib through scikit-learn's own delayed() are the user's.
    Parallel(n_jobs=1)(delayed(model.fit)(X_train, y_train) for model in (DecisionTreeClassifier(max_depth=2),
                                                                          DecisionTreeClassifier(max_depth=3)))

    runs = runs_of(autologged)
    assert [r.name for r in runs] == ["LogisticRegression", "OneVsRestClassifier", "LabelEncoder",
                                      "DecisionTreeClassifier", "DecisionTreeClassifier"]
    assert [r.phase for r in runs] == ["training", "training", "feature_engineering", "training", "training"]
    metrics = autologged.store.get_run_detail(run_of(clf).id).metrics
    assert metrics["log_loss"] == pytest.approx(loss)
    assert run_of(ovr).id == runs[1].uuid


def test_a_transformer_fitted_alone_is_feature_engineering_even_with_score_samples(autologged):
    X, _ = load_iris(return_X_y=True)
    pca = PCA(n_components=2).fit(X)
    assert hasattr(pca, "score_samples")  # a likelihood of the data, not a prediction
    reduced = make_pipeline(StandardScaler(), PCA(n_components=2)).fit_transform(X)
    assert pca.score_samples(X).shape == (150,) and reduced.shape == (150, 2)

    runs = runs_of(autologged)
    assert [(r.name, r.phase) for r in runs] == [("PCA", "feature_engineering"),
                                                 ("Pipeline", "feature_engineering")]
    detail = autologged.store.get_run_detail(runs[0].id)
    assert not [k for k in detail.metrics if k.startswith(("training_", "score"))]


# -- refit=<callable> --------------------------------------------------------------
def lowest_C_within_one_std(cv_results):
    """Gallery: "Balance model complexity and cross-validated score" (refit with a callable),
    on the accuracy of a multi-metric search."""
    mean, std = cv_results["mean_test_accuracy"], cv_results["std_test_accuracy"]
    best = np.argmax(mean)
    candidates = np.flatnonzero(mean >= mean[best] - std[best])
    return int(candidates[np.argmin(np.asarray(cv_results["param_C"], dtype=float)[candidates])])


def test_refit_callable_with_several_metrics_says_nothing_and_records_training_scores(
        autologged, caplog, capfd):
    X, y = load_iris(return_X_y=True)
    search = GridSearchCV(LogisticRegression(max_iter=1000), {"C": [0.01, 0.1, 1.0, 10.0]},
                          scoring={"accuracy": "accuracy", "f1": "f1_macro"},
                          refit=lowest_C_within_one_std, cv=5)
    with caplog.at_level(logging.DEBUG, logger="modeldb"):
        search.fit(X, y)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert capfd.readouterr().err == ""
    with pytest.raises(KeyError):  # scikit-learn's own score has no scorer for a callable refit
        search.score(X, y)

    metrics = autologged.store.get_run_detail(run_of(search).id).metrics
    best = search.best_estimator_
    assert metrics["training_score"] == pytest.approx(best.score(X, y))
    assert metrics["training_score_accuracy"] == pytest.approx(sklearn.metrics.accuracy_score(y, best.predict(X)))
    assert metrics["training_score_f1"] == pytest.approx(
        sklearn.metrics.f1_score(y, best.predict(X), average="macro"))

    # refit by name: the training score is the one scikit-learn's search.score gives.
    by_name = GridSearchCV(LogisticRegression(max_iter=1000), {"C": [0.1, 1.0]},
                           scoring={"accuracy": "accuracy", "f1": "f1_macro"}, refit="f1", cv=3).fit(X, y)
    metrics = autologged.store.get_run_detail(run_of(by_name).id).metrics
    assert metrics["training_score"] == pytest.approx(by_name.score(X, y))
    assert metrics["training_score_f1"] == pytest.approx(by_name.score(X, y))
