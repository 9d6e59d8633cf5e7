"""The scikit-learn part of ``modeldb demo``: a real Pipeline and a grid search, logged by autolog.

``demo_models(project, train_path, test_path)`` (what ``modeldb_core.demo``
calls) trains on the demo's own split and returns one entry a model, judged
like the demo's other models. The stage is one tracked run
(``sklearn_house_prices``) whose children autolog records:

- a ``Pipeline`` (ColumnTransformer: median imputation + scaling of the
  numeric columns, one-hot encoding of the neighbourhood; then Ridge);
- a ``GridSearchCV`` over the Ridge alpha and the imputation strategy (6
  candidates, 3 folds): a parent run, one child per candidate, the best marked.

Metric names: each model's held-out error is logged on its run as ``rmse``,
``mae`` and ``r2``, the names the rest of the demo uses, so ``modeldb best
--metric rmse`` compares every model of the project. Autolog also records the
``sklearn.metrics`` calls under their function names
(``root_mean_squared_error``, ``r2_score``): the same values, scikit-learn's
spelling.

``run_demo_stage(project)`` runs the stage on a generated table of its own,
without the rest of the demo. Everything runs in about a second.
"""
from __future__ import annotations

from typing import Any

from ..task import tracked_task

NUMERIC = ["sqft", "bedrooms", "age", "distance_km"]
CATEGORICAL = ["neighborhood"]
TARGET = "price_k"
DEMO_PROJECT = "house-prices"


def make_houses(rows: int = 600, seed: int = 3) -> tuple[Any, Any]:
    """A small house-price table with missing values and a categorical column."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    hoods = np.array(["riverside", "old town", "hills", "harbour"])
    premium = {"riverside": 40.0, "old town": 25.0, "hills": 60.0, "harbour": 10.0}
    frame = pd.DataFrame({
        "sqft": rng.normal(1800, 450, rows).round(0),
        "bedrooms": rng.integers(1, 6, rows).astype(float),
        "age": rng.integers(0, 90, rows).astype(float),
        "distance_km": np.abs(rng.normal(12, 7, rows)).round(2) + 0.5,
        "neighborhood": rng.choice(hoods, rows),
    })
    price = (40 + 0.18 * frame.sqft + 9 * frame.bedrooms - 0.9 * frame.age
             - 6.5 * np.log(frame.distance_km) + frame.neighborhood.map(premium) + rng.normal(0, 20, rows))
    for column in ("age", "distance_km"):
        frame.loc[rng.random(rows) < 0.05, column] = np.nan
    return frame, price.rename(TARGET)


def build_pipeline(alpha: float = 1.0, numeric: list[str] | None = None,
                   categorical: list[str] | None = None) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric_steps = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    preprocess = ColumnTransformer([
        ("num", numeric_steps, numeric or NUMERIC),
        ("cat", OneHotEncoder(handle_unknown="ignore"), categorical or CATEGORICAL),
    ])
    return Pipeline([("preprocess", preprocess), ("model", Ridge(alpha=alpha))])


def _read_split(path: str) -> tuple[Any, Any]:
    import pandas as pd

    frame = pd.read_csv(path)
    return frame.drop(columns=[TARGET]), frame[TARGET]


def _held_out(run: Any, y_true: Any, predicted: Any) -> dict[str, float]:
    """Score ``predicted`` through ``sklearn.metrics`` (autolog records those) and log the demo's names."""
    import sklearn.metrics as metrics

    scores = {"rmse": float(metrics.root_mean_squared_error(y_true, predicted)),
              "mae": float(metrics.mean_absolute_error(y_true, predicted)),
              "r2": float(metrics.r2_score(y_true, predicted))}
    if run is not None:
        run.log_metrics(scores)
        run.flush()
    return scores


def _fit_stage(rows: int, seed: int, train_path: str | None, test_path: str | None) -> dict:
    from . import recorder
    from sklearn.model_selection import GridSearchCV, train_test_split

    if train_path and test_path:
        X_train, y_train = _read_split(train_path)
        X_test, y_test = _read_split(test_path)
    else:
        X, y = make_houses(rows, seed)
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=seed)
    categorical = [c for c in CATEGORICAL if c in X_train.columns]
    numeric = [c for c in X_train.columns if c not in categorical]
    pipeline = build_pipeline(numeric=numeric, categorical=categorical).fit(X_train, y_train)
    pipe_run = recorder.run_of(pipeline)
    result: dict[str, Any] = {"pipeline": _held_out(pipe_run, y_test, pipeline.predict(X_test))}
    search = GridSearchCV(build_pipeline(numeric=numeric, categorical=categorical),
                          {"model__alpha": [0.1, 3.0, 30.0],
                           "preprocess__num__impute__strategy": ["mean", "median"]},
                          cv=3, scoring="neg_root_mean_squared_error")
    search.fit(X_train, y_train)
    search_run = recorder.run_of(search)
    result["search"] = _held_out(search_run, y_test, search.predict(X_test))
    result["search"].update(best_params=dict(search.best_params_),
                            candidates=len(search.cv_results_["params"]))
    for key, run in (("pipeline", pipe_run), ("search", search_run)):
        result[key]["run_id"] = run.id if run is not None else None
    return result


# The stage of the demo's own project, importable by name so that `modeldb reproduce` can run it again.
@tracked_task(project=DEMO_PROJECT, phase="training", sklearn_autolog=True, capture_return=False)
def sklearn_house_prices(rows: int = 600, seed: int = 3, train_path: str | None = None,
                         test_path: str | None = None) -> dict:
    """The Pipeline and the grid search, fitted under autolog (one run, their fits its children)."""
    return _fit_stage(rows, seed, train_path, test_path)


def train_pipeline_stage(project: str = "house-prices", rows: int = 600, seed: int = 3,
                         train_path: str | None = None, test_path: str | None = None) -> dict[str, Any]:
    """Fit the Pipeline and the grid search under autolog; return their held-out metrics and run ids.

    With ``train_path`` and ``test_path`` (CSV files with a ``price_k`` column
    and a ``neighborhood`` column) the models learn from and are judged on
    those rows; otherwise on a generated table.
    """
    from . import recorder

    was_on = recorder.is_enabled()
    stage = sklearn_house_prices if project == DEMO_PROJECT else tracked_task(
        project=project, phase="training", name="sklearn_house_prices", sklearn_autolog=True,
        capture_return=False)(_fit_stage)
    try:
        return stage(rows, seed, train_path, test_path)
    finally:
        if not was_on:
            recorder.autolog(disable=True)


def demo_models(project: str, train_path: str, test_path: str) -> list[dict[str, Any]]:
    """The stage on the demo's split, as the demo lists its models: name, about, run id, metrics."""
    result = train_pipeline_stage(project=project, train_path=train_path, test_path=test_path)
    pipe, search = result["pipeline"], result["search"]
    best = ", ".join(f"{k}={v}" for k, v in search["best_params"].items())
    return [
        {"model": "pipeline", "about": "scikit-learn Pipeline(ColumnTransformer -> Ridge)",
         **{k: pipe[k] for k in ("run_id", "rmse", "mae", "r2")}},
        {"model": "search", "about": f"scikit-learn GridSearchCV, {search['candidates']} candidates, best {best}",
         **{k: search[k] for k in ("run_id", "rmse", "mae", "r2")}},
    ]


def run_demo_stage(project: str = "house-prices", workdir: str | None = None) -> str:
    """Run the stage alone (on a generated table) and return what it would print about it."""
    result = train_pipeline_stage(project=project)
    pipe, search = result["pipeline"], result["search"]
    best = ", ".join(f"{k}={v}" for k, v in search["best_params"].items())
    return "\n".join([
        "",
        "scikit-learn (logged by modeldb_core.sklearn.autolog):",
        f"  Pipeline(ColumnTransformer -> Ridge)  run {pipe['run_id']}: "
        f"held-out rmse={pipe['rmse']:.2f} r2={pipe['r2']:.3f}",
        f"  GridSearchCV, {search['candidates']} candidates  run {search['run_id']}: best {best}, "
        f"held-out rmse={search['rmse']:.2f} r2={search['r2']:.3f}",
        f"  See the pipeline graph and candidates: `modeldb runs show {pipe['run_id']}`",
    ])
