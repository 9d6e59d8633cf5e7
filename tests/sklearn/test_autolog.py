"""scikit-learn autolog with real fits, on real SQLite (and PostgreSQL where marked by `tracking`)."""
from __future__ import annotations

import json
import logging
import os

import numpy as np
import pandas as pd
import pytest
import sklearn
import sklearn.metrics
import sklearn.model_selection
import sklearn.base
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.ensemble import BaggingRegressor, StackingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.metrics import mean_squared_error  # bound before autolog(): autolog must rebind it
from sklearn.model_selection import GridSearchCV, cross_val_predict, cross_val_score
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.decomposition import PCA

import modeldb_core as mdb
from modeldb_core.artifact_store import ArtifactStore
from modeldb_core.fingerprint import fingerprint
from modeldb_core.sklearn import autolog, run_of
from modeldb_core.sklearn import settings as mdb_sklearn_settings


# -- fixtures and helpers -------------------------------------------------------
@pytest.fixture
def autologged(tracking):
    """Tracking on a fresh store (SQLite and PostgreSQL) with autolog on; off again afterwards."""
    autolog()
    yield tracking
    autolog(disable=True)


@pytest.fixture
def autologged_sqlite(sqlite_uri):
    client = mdb.configure(uri=sqlite_uri)
    autolog()
    yield client
    autolog(disable=True)
    client.close()


def houses(rows: int = 80, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "sqft": rng.normal(1800, 400, rows),
        "age": rng.integers(0, 80, rows).astype(float),
        "hood": rng.choice(["north", "south", "east"], rows),
    })
    frame.loc[3, "age"] = np.nan
    price = 0.2 * frame.sqft - frame.age.fillna(40) + frame.hood.map({"north": 30, "south": 0, "east": 10})
    return frame, (price + rng.normal(0, 5, rows)).rename("price")


def house_pipeline(alpha: float = 0.5) -> Pipeline:
    numeric = Pipeline([("impute", SimpleImputer()), ("scaler", StandardScaler())])
    preprocess = ColumnTransformer([("num", numeric, ["sqft", "age"]),
                                    ("cat", OneHotEncoder(handle_unknown="ignore"), ["hood"])])
    return Pipeline([("preprocess", preprocess), ("model", Ridge(alpha=alpha))])


def runs_of(client):
    return sorted(client.store.list_runs(limit=1000), key=lambda r: r.id)


def detail(client, run):
    return client.store.get_run_detail(run.id)


def graph_of(d):
    return json.loads(d.tags["sklearn.pipeline_graph"])


# -- the tests -------------------------------------------------------------------
def test_pipeline_with_column_transformer_on_a_dataframe(autologged):
    X, y = houses()
    pipe = house_pipeline()
    assert pipe.fit(X, y) is pipe

    runs = runs_of(autologged)
    assert [r.name for r in runs] == ["Pipeline"], "the steps' own fits are part of the outermost run"
    d = detail(autologged, runs[0])
    assert (d.run.status, d.run.phase) == ("succeeded", "training")

    # hyperparameters with nested step names, estimators by class
    assert d.params["model__alpha"] == 0.5
    assert d.params["preprocess__num__scaler__with_mean"] is True
    assert d.params["preprocess__num__impute__strategy"] == "mean"
    assert d.params["preprocess__cat__handle_unknown"] == "ignore"
    assert d.params["model"] == "sklearn.linear_model.Ridge"
    assert d.params["steps"] == [["preprocess", "sklearn.compose.ColumnTransformer"],
                                 ["model", "sklearn.linear_model.Ridge"]]
    assert d.params["preprocess__transformers"] == [["num", "sklearn.pipeline.Pipeline", ["sqft", "age"]],
                                                    ["cat", "sklearn.preprocessing.OneHotEncoder", ["hood"]]]

    assert d.tags["sklearn.estimator_class"] == "Pipeline"
    assert d.tags["sklearn.estimator_module"] == "sklearn.pipeline"
    assert d.tags["sklearn.version"] == sklearn.__version__
    assert json.loads(d.tags["sklearn.features_in"]) == ["sqft", "age", "hood"]
    assert json.loads(d.tags["sklearn.features_out"]) == [
        "num__sqft", "num__age", "cat__hood_east", "cat__hood_north", "cat__hood_south"]

    # the structure, branches of the ColumnTransformer included
    graph = graph_of(d)
    nodes = {n["id"]: n for n in graph["nodes"]}
    assert nodes["preprocess"]["class"] == "ColumnTransformer"
    assert nodes["preprocess__num__scaler"]["class"] == "StandardScaler"
    assert nodes["preprocess__num__impute"]["columns"] == ["sqft", "age"]
    assert nodes["preprocess__cat"]["columns"] == ["hood"]
    assert nodes["model"]["module"] == "sklearn.linear_model"
    edges = {tuple(e) for e in graph["edges"]}
    assert edges == {("preprocess", "preprocess__num__impute"), ("preprocess__num__impute", "preprocess__num__scaler"),
                     ("preprocess", "preprocess__cat"), ("preprocess__num__scaler", "model"),
                     ("preprocess__cat", "model")}

    # training data as inputs, fingerprinted like everywhere else
    inputs = {io.name: io.artifact for io in d.inputs}
    assert inputs["X_train"].content_hash == fingerprint(X).content_hash
    assert inputs["X_train"].metadata["columns"] == ["sqft", "age", "hood"]
    assert inputs["X_train"].metadata["shape"] == [80, 3]
    assert inputs["X_train"].fingerprint_method.endswith("full")
    assert inputs["y_train"].content_hash == fingerprint(y).content_hash

    # metrics: fit time and the training score
    assert d.metrics["fit_time_s"] > 0 and d.metrics["model_serialization_s"] > 0
    assert d.metrics["training_score"] == pytest.approx(pipe.score(X, y))
    assert d.metrics["training_r2_score"] == pytest.approx(pipe.score(X, y))
    assert d.metrics["training_mean_squared_error"] == pytest.approx(
        sklearn.metrics._regression.mean_squared_error(y, pipe.predict(X)))

    # the fitted model, content-addressed, described without unpickling
    (model,) = [io.artifact for io in d.outputs if io.name == "model"]
    store = ArtifactStore(autologged.settings.artifacts)
    assert model.kind == "model" and model.content_hash.startswith("sha256:")
    assert store.path(model.content_hash).stat().st_size == model.size
    assert store.verify(model.content_hash)
    assert model.metadata["format"] == "pickle" and model.metadata["class"] == "sklearn.pipeline.Pipeline"
    assert model.metadata["library_versions"]["scikit-learn"] == sklearn.__version__
    assert store.describe(model.content_hash)["library_versions"]["numpy"] == np.__version__
    reloaded = store.load_pickle(model.content_hash)
    np.testing.assert_allclose(reloaded.predict(X), pipe.predict(X))


def test_a_transformer_fit_alone_is_feature_engineering(autologged_sqlite):
    X = np.random.default_rng(1).normal(size=(40, 4))
    out = StandardScaler().fit_transform(X)
    assert out.shape == (40, 4)
    (run,) = runs_of(autologged_sqlite)
    d = detail(autologged_sqlite, run)
    assert (run.name, run.phase, d.tags["sklearn.method"]) == ("StandardScaler", "feature_engineering", "fit_transform")
    assert json.loads(d.tags["sklearn.features_out"]) == ["x0", "x1", "x2", "x3"]
    assert "training_score" not in d.metrics
    assert [io.name for io in d.inputs] == ["X_train"]


def test_grid_search_records_a_parent_and_one_child_per_candidate(autologged):
    X, y = houses(90)
    search = GridSearchCV(house_pipeline(), {"model__alpha": [0.01, 1.0, 100.0],
                                             "preprocess__num__impute__strategy": ["mean", "median"]}, cv=3)
    search.fit(X, y)

    runs = runs_of(autologged)
    parent = next(r for r in runs if r.name == "GridSearchCV")
    children = [r for r in runs if r.parent_run_id == parent.id]
    assert len(runs) == 1 + 6 and len(children) == 6, "inner fits are not runs of their own"
    results = search.cv_results_
    for child in children:
        d = detail(autologged, child)
        i = int(d.tags["sklearn.candidate_index"])
        assert d.run.status == "succeeded" and d.run.phase == "training"
        assert d.run.duration == pytest.approx(
            3 * (results["mean_fit_time"][i] + results["mean_score_time"][i]), rel=1e-3, abs=1e-3)
        assert d.params == results["params"][i]
        assert d.metrics["mean_test_score"] == pytest.approx(results["mean_test_score"][i])
        assert d.metrics["std_test_score"] == pytest.approx(results["std_test_score"][i])
        assert d.metrics["rank_test_score"] == results["rank_test_score"][i]
        assert [m.value for m in d.metric_history["test_score"]] == pytest.approx(
            [results[f"split{k}_test_score"][i] for k in range(3)])
        assert (d.tags.get("sklearn.best_candidate") == "true") == (i == search.best_index_)

    p = detail(autologged, parent)
    best_child = p.tags["sklearn.best_run_id"]
    assert detail(autologged, autologged.store.get_run(best_child)).params == search.best_params_
    assert p.metrics["best_score"] == pytest.approx(search.best_score_)
    assert p.params["best_params.model__alpha"] == search.best_params_["model__alpha"]
    assert p.params["estimator__model__alpha"] == 0.5
    assert p.params["param_grid"] == {"model__alpha": [0.01, 1.0, 100.0],
                                      "preprocess__num__impute__strategy": ["mean", "median"]}
    graph = graph_of(p)
    assert graph["root"] == "__root__"
    assert ["__root__", "estimator__preprocess"] in graph["edges"]
    assert any(io.name == "model" for io in p.outputs)


def test_halving_search_marks_the_best_candidate(autologged_sqlite):
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingGridSearchCV

    X, y = houses(120)
    search = HalvingGridSearchCV(house_pipeline(), {"model__alpha": [0.01, 0.1, 1.0, 10.0]}, cv=2,
                                 factor=2, min_resources=30, random_state=0).fit(X, y)
    runs = runs_of(autologged_sqlite)
    parent = next(r for r in runs if r.name == "HalvingGridSearchCV")
    children = [detail(autologged_sqlite, r) for r in runs if r.parent_run_id == parent.id]
    assert len(children) == len(search.cv_results_["params"])
    best = [c for c in children if c.tags.get("sklearn.best_candidate") == "true"]
    assert len(best) == 1 and int(best[0].tags["sklearn.candidate_index"]) == search.best_index_
    assert {c.tags["sklearn.search_iteration"] for c in children} == {str(i) for i in range(search.n_iterations_)}
    assert all("n_resources" in c.metrics for c in children)


def test_a_failing_fit_is_recorded_and_re_raised_unchanged(autologged_sqlite):
    boom = ValueError("the solver diverged")

    class Exploding(RegressorMixin, BaseEstimator):
        def __init__(self, depth=3):
            self.depth = depth

        def fit(self, X, y):
            raise boom

    with pytest.raises(ValueError) as raised:
        Exploding(depth=5).fit([[1.0], [2.0]], [1.0, 2.0])
    assert raised.value is boom

    # a real scikit-learn failure: one class only
    with pytest.raises(ValueError, match="class"):
        LogisticRegression().fit(np.ones((6, 2)), np.zeros(6))

    failed = {r.name: detail(autologged_sqlite, r) for r in runs_of(autologged_sqlite)}
    exploding = failed["Exploding"]
    assert exploding.run.status == "failed"
    assert exploding.run.error_type == "ValueError" and exploding.run.error_message == "the solver diverged"
    assert "raise boom" in exploding.run.error_traceback
    assert exploding.params["depth"] == 5
    assert exploding.outputs == []
    logistic = failed["LogisticRegression"]
    assert logistic.run.status == "failed" and "class" in logistic.run.error_message
    assert logistic.params["C"] == 1.0 and {io.name for io in logistic.inputs} == {"X_train", "y_train"}


def test_a_bug_in_logging_never_breaks_fit(autologged_sqlite, caplog):
    X, y = houses()
    # A lambda cannot be pickled: saving the model fails, the fit must not.
    pipe = Pipeline([("log", FunctionTransformer(lambda a: a[["sqft"]] * 2.0)), ("model", LinearRegression())])
    with caplog.at_level(logging.WARNING, logger="modeldb"):
        assert pipe.fit(X, y) is pipe
    (run,) = runs_of(autologged_sqlite)
    d = detail(autologged_sqlite, run)
    assert d.run.status == "succeeded" and d.outputs == []
    assert "save the fitted model" in caplog.text

    # A store that cannot be reached: the fit still returns its result.
    mdb.configure(uri="postgresql://modeldb@127.0.0.1:1/nowhere")
    model = Ridge().fit(X[["sqft"]], y)
    assert model.coef_.shape == (1,)
    assert mean_squared_error(y, model.predict(X[["sqft"]])) > 0


def test_nested_meta_estimators_are_one_run_nested_in_the_current_run(autologged_sqlite):
    X, y = houses(60)
    inner = Pipeline([("scale", StandardScaler()), ("ridge", Ridge(alpha=2.0))])
    model = TransformedTargetRegressor(
        regressor=BaggingRegressor(estimator=inner, n_estimators=3, random_state=0),
        transformer=StandardScaler())
    stack = StackingRegressor([("bagged", model), ("pca_lr", Pipeline([("pca", PCA(1)), ("lr", LinearRegression())]))],
                              final_estimator=Ridge(), cv=2)
    union = FeatureUnion([("scaled", StandardScaler()), ("pca", PCA(1))])

    @mdb.tracked_task(name="train_models", phase="training")
    def train(X, y):
        stack.fit(X, y)
        return union.fit_transform(X)

    numeric = X[["sqft", "age"]].fillna(0)
    train(numeric, y)
    runs = {r.name: r for r in runs_of(autologged_sqlite)}
    assert set(runs) == {"train_models", "StackingRegressor", "FeatureUnion"}
    task = runs["train_models"]
    assert runs["StackingRegressor"].parent_run_id == task.id
    assert runs["FeatureUnion"].parent_run_id == task.id
    assert runs["FeatureUnion"].phase == "feature_engineering"

    d = detail(autologged_sqlite, runs["StackingRegressor"])
    assert d.params["bagged__regressor__estimator__ridge__alpha"] == 2.0
    assert d.params["bagged__regressor__n_estimators"] == 3
    assert d.params["final_estimator"] == "sklearn.linear_model.Ridge"
    graph = graph_of(d)
    nodes = {n["id"]: n["class"] for n in graph["nodes"]}
    assert nodes["bagged__regressor__estimator__ridge"] == "Ridge"
    assert nodes["bagged__transformer"] == "StandardScaler"
    edges = {tuple(e) for e in graph["edges"]}
    assert ("__root__", "bagged") in edges and ("bagged", "bagged__regressor") in edges
    assert ("bagged__regressor", "bagged__regressor__estimator__scale") in edges
    assert ("bagged__regressor__estimator__scale", "bagged__regressor__estimator__ridge") in edges
    assert ("pca_lr__pca", "pca_lr__lr") in edges and ("__root__", "final_estimator") in edges

    union_graph = graph_of(detail(autologged_sqlite, runs["FeatureUnion"]))
    assert {tuple(e) for e in union_graph["edges"]} == {("__root__", "scaled"), ("__root__", "pca")}


def test_metrics_on_predictions_are_recorded_on_the_models_run(autologged_sqlite):
    X, y = houses(100)
    X_train, X_test, y_train, y_test = X[:70], X[70:], y[:70], y[70:]
    pipe = house_pipeline().fit(X_train, y_train)
    other = Ridge().fit(X_train[["sqft"]], y_train)

    mse = mean_squared_error(y_test, pipe.predict(X_test))   # name imported before autolog()
    r2 = sklearn.metrics.r2_score(y_test, pipe.predict(X_test))
    mae = sklearn.metrics.mean_absolute_error(y_test, other.predict(X_test[["sqft"]]))
    sklearn.metrics.mean_squared_error(y_test, y_test * 1.01)  # no model's predictions: not recorded
    pipe_score = pipe.score(X_test, y_test)                        # the estimator's own score
    other_score = other.score(X_test[["sqft"]], y_test)

    pipe_run, other_run = (run_of(pipe), run_of(other))
    d = autologged_sqlite.store.get_run_detail(pipe_run.id)
    assert d.metrics["mean_squared_error"] == pytest.approx(mse)
    assert d.metrics["r2_score"] == pytest.approx(r2)
    assert len(d.metric_history["mean_squared_error"]) == 1
    assert "mean_absolute_error" not in d.metrics
    inputs = {io.name: io.artifact.content_hash for io in d.inputs}
    assert inputs["X_eval"] == fingerprint(X_test).content_hash
    assert inputs["y_eval"] == fingerprint(y_test).content_hash
    assert d.metrics["score"] == pytest.approx(pipe_score)
    o = autologged_sqlite.store.get_run_detail(other_run.id)
    assert o.metrics["mean_absolute_error"] == pytest.approx(mae)
    assert o.metrics["score"] == pytest.approx(other_score)
    assert "mean_squared_error" not in o.metrics
    assert "r2_score" not in o.metrics, "score's own r2_score call is part of score"
    assert len(d.metric_history["r2_score"]) == 1


def _patch_points() -> dict:
    """What autolog replaces, as the objects in place right now."""
    import sklearn.base

    return {
        "Ridge.fit": Ridge.__dict__["fit"],
        "Pipeline.fit": Pipeline.__dict__["fit"],
        "Pipeline.predict": Pipeline.__dict__["predict"],
        "TransformerMixin.fit_transform": sklearn.base.TransformerMixin.__dict__["fit_transform"],
        "metrics.r2_score": sklearn.metrics.r2_score,
        "module.mean_squared_error": globals()["mean_squared_error"],
        "module.cross_val_score": globals()["cross_val_score"],
        "model_selection.cross_validate": sklearn.model_selection.cross_validate,
    }


def test_disabling_restores_the_original_methods_and_functions(sqlite_uri):
    client = mdb.configure(uri=sqlite_uri)

    before = _patch_points()
    autolog()
    assert Ridge.__dict__["fit"] is not before["Ridge.fit"]
    assert sklearn.metrics.r2_score is not before["metrics.r2_score"]
    assert globals()["mean_squared_error"] is not before["module.mean_squared_error"]
    assert sklearn.model_selection.cross_validate is not before["model_selection.cross_validate"]
    # Conditional methods stay conditional: a regressor pipeline has no predict_proba.
    regressor_pipe = Pipeline([("model", Ridge())])
    assert not hasattr(regressor_pipe, "predict_proba") and hasattr(regressor_pipe, "predict")
    autolog()  # twice is harmless
    autolog(disable=True)

    after = _patch_points()
    assert all(after[k] is before[k] for k in before), [k for k in before if after[k] is not before[k]]
    assert "__init_subclass__" not in sklearn.base.BaseEstimator.__dict__
    Ridge().fit([[0.0], [1.0]], [0.0, 1.0])
    assert client.store.list_runs() == []
    client.close()


def test_estimators_defined_after_autolog_and_sparse_inputs(autologged_sqlite):
    from scipy import sparse

    class MeanRegressor(RegressorMixin, BaseEstimator):
        def fit(self, X, y):
            self.mean_ = float(np.mean(y))
            return self

        def predict(self, X):
            return np.full(X.shape[0], self.mean_)

    X = sparse.random(30, 5, density=0.3, random_state=0, format="csr")
    y = np.arange(30, dtype=float)
    MeanRegressor().fit(X, y)
    Ridge().fit(X, y)
    runs = {r.name: detail(autologged_sqlite, r) for r in runs_of(autologged_sqlite)}
    assert set(runs) == {"MeanRegressor", "Ridge"}
    assert runs["MeanRegressor"].metrics["training_score"] == pytest.approx(0.0)
    x_in = {io.name: io.artifact for io in runs["Ridge"].inputs}["X_train"]
    assert x_in.kind == "sparse_matrix" and x_in.metadata["nnz"] == X.nnz
    assert x_in.content_hash == fingerprint(X).content_hash


def test_settings_turn_parts_off(autologged_sqlite):
    autolog(log_models=False, log_datasets=False, log_training_metrics=False)
    try:
        autolog()  # a later plain call (as @tracked_task makes) keeps the choices
        Ridge().fit([[0.0], [1.0], [2.0]], [0.0, 1.0, 2.0])
        (run,) = runs_of(autologged_sqlite)
        d = detail(autologged_sqlite, run)
        assert d.inputs == [] and d.outputs == []
        assert set(d.metrics) == {"fit_time_s"}
    finally:
        autolog(log_models=True, log_datasets=True, log_training_metrics=True)
    with pytest.raises(mdb.ValidationError, match="max_tuning_runs"):
        autolog(max_tuning_runs=-1)


def test_disabled_tracking_records_nothing(sqlite_uri, monkeypatch):
    monkeypatch.setenv("MODELDB_DISABLED", "1")
    client = mdb.configure(uri=sqlite_uri)
    autolog()
    try:
        model = Ridge().fit([[0.0], [1.0]], [0.0, 1.0])
        assert model.coef_.shape == (1,)
    finally:
        autolog(disable=True)
    assert not os.path.exists(client.settings.artifacts)


def test_fits_in_joblib_threads_belong_to_the_outer_fit(autologged_sqlite):
    import joblib
    from sklearn.multioutput import MultiOutputRegressor

    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(60, 3)), rng.normal(size=(60, 4))
    with joblib.parallel_backend("threading", n_jobs=2):
        model = MultiOutputRegressor(Ridge(), n_jobs=2).fit(X, Y)
    assert len(model.estimators_) == 4
    runs = runs_of(autologged_sqlite)
    assert [r.name for r in runs] == ["MultiOutputRegressor"]
    d = detail(autologged_sqlite, runs[0])
    assert d.params["estimator"] == "sklearn.linear_model.Ridge" and d.params["estimator__alpha"] == 1.0


def test_cross_validation_is_one_evaluation_run_whatever_n_jobs(autologged_sqlite):
    X, y = houses(60)
    X = X[["sqft"]]
    scores = cross_val_score(Ridge(alpha=3.0), X, y, cv=3)              # bound before autolog()
    sklearn.model_selection.cross_val_score(Ridge(), X, y, cv=3, n_jobs=2)  # folds in worker processes
    predicted = cross_val_predict(LinearRegression(), X, y, cv=3)
    r2 = sklearn.metrics.r2_score(y, predicted)

    runs = {r.name: detail(autologged_sqlite, r) for r in runs_of(autologged_sqlite)}
    assert set(runs) == {"cross_val_score(Ridge)", "cross_val_predict(LinearRegression)"} and len(runs_of(
        autologged_sqlite)) == 3, "one run per call, none per fold"
    first = min((r for r in runs_of(autologged_sqlite) if r.name == "cross_val_score(Ridge)"), key=lambda r: r.id)
    d = detail(autologged_sqlite, first)
    assert d.run.phase == "evaluation" and d.params["alpha"] == 3.0
    assert [m.value for m in d.metric_history["test_score"]] == pytest.approx(list(scores))
    assert d.metrics["mean_test_score"] == pytest.approx(scores.mean())
    assert {io.name for io in d.inputs} == {"X", "y"}
    assert runs["cross_val_predict(LinearRegression)"].metrics["r2_score"] == pytest.approx(r2)


def test_project_option_applies_outside_runs_only(autologged_sqlite):
    autolog(project="sklearn-lab")
    Ridge().fit([[0.0], [1.0]], [0.0, 1.0])

    @mdb.tracked_task(project="pricing", name="train_in_task")
    def train():
        return Ridge().fit([[0.0], [2.0]], [0.0, 1.0])

    train()
    autolog(disable=True)
    assert mdb_sklearn_settings()["project"] is None, "disabling resets the options"
    projects = {(r.name, r.project) for r in runs_of(autologged_sqlite)}
    assert projects == {("Ridge", "sklearn-lab"), ("train_in_task", "pricing"), ("Ridge", "pricing")}


def test_the_graph_draws_as_a_tree_for_the_terminal():
    from modeldb_core.sklearn.graph import build, render_text

    text = render_text(build(GridSearchCV(house_pipeline(), {"model__alpha": [1.0]})))
    assert text.splitlines() == [
        "GridSearchCV",
        "└── preprocess  ColumnTransformer",
        "    ├── num/impute  SimpleImputer  [sqft, age]",
        "    │   └── scaler  StandardScaler",
        "    │       └── model  Ridge",
        "    └── cat  OneHotEncoder  [hood]",
        "        └── -> model",
    ]


def test_a_metric_on_a_slice_of_predict_proba_is_recorded(autologged_sqlite):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(80, 3))
    y = (X[:, 0] + rng.normal(0, 0.5, 80) > 0).astype(int)
    clf = Pipeline([("scale", StandardScaler()), ("lr", LogisticRegression())]).fit(X[:60], y[:60])
    auc = sklearn.metrics.roc_auc_score(y[60:], clf.predict_proba(X[60:])[:, 1])
    d = autologged_sqlite.store.get_run_detail(run_of(clf).id)
    assert d.metrics["roc_auc_score"] == pytest.approx(auc)
    assert d.metrics["training_accuracy_score"] == pytest.approx(clf.score(X[:60], y[:60]))
    assert d.metrics["training_score"] == d.metrics["training_accuracy_score"]


def test_a_transformer_defined_after_autolog_keeps_set_output_after_disable(sqlite_uri):
    client = mdb.configure(uri=sqlite_uri)
    autolog()
    try:
        class Doubler(sklearn.base.TransformerMixin, BaseEstimator):
            def fit(self, X, y=None):
                return self

            def fit_transform(self, X, y=None):
                return self.fit(X).transform(X)

            def transform(self, X):
                return np.asarray(X) * 2.0

            def get_feature_names_out(self, input_features=None):
                return np.array(["a2", "b2"], dtype=object)

        frame = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
        out = Doubler().set_output(transform="pandas").fit_transform(frame)
        assert list(out.columns) == ["a2", "b2"]
        assert [r.name for r in runs_of(client)] == ["Doubler"]
    finally:
        autolog(disable=True)
    out = Doubler().set_output(transform="pandas").fit_transform(frame)
    assert list(out.columns) == ["a2", "b2"] and out.values.tolist() == [[2.0, 6.0], [4.0, 8.0]]
    assert len(runs_of(client)) == 1
    client.close()


def test_randomized_search_records_its_distributions_and_candidates(autologged_sqlite):
    from scipy.stats import loguniform
    from sklearn.model_selection import RandomizedSearchCV

    X, y = houses(60)
    search = RandomizedSearchCV(Ridge(), {"alpha": loguniform(1e-3, 10.0), "fit_intercept": [True, False]},
                                n_iter=4, cv=2, random_state=0).fit(X[["sqft", "hood"]].assign(
                                    hood=lambda f: (f.hood == "north").astype(float)), y)
    runs = runs_of(autologged_sqlite)
    parent = detail(autologged_sqlite, next(r for r in runs if r.name == "RandomizedSearchCV"))
    assert parent.params["param_distributions"] == {"alpha": "loguniform(0.001, 10.0)",
                                                    "fit_intercept": [True, False]}
    children = [detail(autologged_sqlite, r) for r in runs if r.parent_run_id == parent.run.id]
    assert sorted(c.params["alpha"] for c in children) == sorted(p["alpha"] for p in search.cv_results_["params"])
    assert sum(c.tags.get("sklearn.best_candidate") == "true" for c in children) == 1


@pytest.mark.parametrize("scheme", ["postgresql+psycopg://postgres@", "http://"])
def test_a_fit_never_waits_on_a_store_that_does_not_answer(scheme, tmp_path, monkeypatch):
    import socket
    import time

    # A PostgreSQL or modeldb server address that never answers: the connection is accepted
    # by the kernel, the request never gets a reply. Saving the fitted model (and pushing it
    # to a server, which keeps blobs for other machines) must not happen on the caller's thread.
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(16)
    monkeypatch.setenv("MODELDB_ARTIFACTS", str(tmp_path / "artifacts"))
    address = f"{scheme}127.0.0.1:{hole.getsockname()[1]}"
    client = mdb.configure(uri=address + "/modeldb" if scheme.startswith("postgresql") else address,
                           store_timeout=30)
    autolog()
    try:
        X, y = houses()
        started = time.monotonic()
        model = house_pipeline().fit(X, y)
        took = time.monotonic() - started
        assert model.predict(X[:3]).shape == (3,)
        assert took < 10, f"the fit waited {took:.1f} s on the store"
        # The model was saved where this machine keeps artifacts, the run waits in the journal.
        assert list((tmp_path / "artifacts").rglob("*")), "no model saved"
        assert client.runtime.journal_path.stat().st_size > 0
    finally:
        autolog(disable=True)
        hole.close()
        client.close()
