"""The scikit-learn part of ``modeldb demo``: a real Pipeline and a grid search, logged by autolog.

``run_demo_stage(project, workdir)`` (what ``modeldb_core.demo`` calls) runs
``train_pipeline_stage`` and returns the lines the demo prints. The stage is
one tracked run (``sklearn_house_prices``) whose children autolog records:

- a ``Pipeline`` (ColumnTransformer: median imputation + scaling of the
  numeric columns, one-hot encoding of the neighbourhood; then Ridge) fit on a
  generated pandas DataFrame, with its held-out RMSE and R² logged by calling
  ``sklearn.metrics`` on its predictions;
- a ``GridSearchCV`` over the Ridge alpha and the imputation strategy (6
  candidates, 3 folds): a parent run, one child per candidate, the best marked;
  its best model's held-out metrics likewise.

Everything runs in about a second.
"""
from __future__ import annotations

from typing import Any

from ..task import tracked_task

NUMERIC = ["sqft", "bedrooms", "age", "distance_km"]
CATEGORICAL = ["neighborhood"]


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
    return frame, price.rename("price_k")


def build_pipeline(alpha: float = 1.0) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    preprocess = ColumnTransformer([
        ("num", numeric, NUMERIC),
        ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
    ])
    return Pipeline([("preprocess", preprocess), ("model", Ridge(alpha=alpha))])


def train_pipeline_stage(project: str = "house-prices", rows: int = 600, seed: int = 3) -> dict[str, Any]:
    """Fit the Pipeline and the grid search under autolog; return their held-out metrics and run ids."""
    from . import recorder

    was_on = recorder.is_enabled()

    @tracked_task(project=project, phase="training", name="sklearn_house_prices", sklearn_autolog=True,
                  capture_return=False)
    def sklearn_house_prices(rows: int, seed: int) -> dict[str, Any]:
        import sklearn.metrics as metrics
        from sklearn.model_selection import GridSearchCV, train_test_split

        X, y = make_houses(rows, seed)
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=seed)
        pipeline = build_pipeline().fit(X_train, y_train)
        predicted = pipeline.predict(X_test)
        result = {"pipeline": {"rmse": metrics.root_mean_squared_error(y_test, predicted),
                               "r2": metrics.r2_score(y_test, predicted)}}
        search = GridSearchCV(build_pipeline(), {"model__alpha": [0.1, 3.0, 30.0],
                                                 "preprocess__num__impute__strategy": ["mean", "median"]},
                              cv=3, scoring="neg_root_mean_squared_error")
        search.fit(X_train, y_train)
        best = search.predict(X_test)
        result["search"] = {"rmse": metrics.root_mean_squared_error(y_test, best),
                            "r2": metrics.r2_score(y_test, best),
                            "best_params": dict(search.best_params_),
                            "candidates": len(search.cv_results_["params"])}
        for key, fitted in (("pipeline", pipeline), ("search", search)):
            run = recorder.run_of(fitted)
            result[key]["run_id"] = run.id if run is not None else None
        return result

    try:
        return sklearn_house_prices(rows, seed)
    finally:
        if not was_on:
            recorder.autolog(disable=True)


def run_demo_stage(project: str = "house-prices", workdir: str | None = None) -> str:
    """Run the stage and return what the demo prints about it."""
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
