"""The pricing team's own code, as the Airflow DAG, the Luigi task and the Prefect flows of
the lifecycle scenario call it: the data, its preparation, and one tracked training function.

House prices depend on three features, with a quadratic and a cubic term in ``area``, so
the models the scenario trains rank by construction, not by a lucky seed: a straight line
(degree 1) misses both terms, degree 2 misses the cubic one, degree 3 is the truth, and a
heavily regularised line (``alpha``) is worse than a plain one.
"""
from __future__ import annotations

import pickle

import numpy as np
import pandas as pd

import modeldb_core as mdb

FEATURES = ["area", "age", "distance"]
TARGET = "price"
MODEL = "pricing"


def houses(rows: int, seed: int, shift: float = 0.0, missing: int = 0) -> pd.DataFrame:
    """``rows`` houses; ``shift`` moves ``area`` by that many standard deviations (the market
    changed); ``missing`` rows lose their ``age`` (what data preparation drops)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, len(FEATURES))), columns=FEATURES)
    frame["area"] += shift
    area = frame["area"]
    frame[TARGET] = (3.0 * area - 2.0 * frame["age"] + 0.5 * frame["distance"] + area ** 2 + 0.3 * area ** 3
                     + rng.normal(scale=0.1, size=rows))
    if missing:
        frame.loc[rng.choice(rows, size=missing, replace=False), "age"] = np.nan
    return frame


def prepare(raw_path: str, prepared_path: str) -> str:
    """Data preparation: the raw export without its incomplete rows."""
    pd.read_csv(raw_path).dropna().to_csv(prepared_path, index=False)
    return prepared_path


@mdb.tracked_task(project="pricing", phase="training", register_model=MODEL, outputs=["model_path"])
def train_model(prepared_path: str, model_path: str, degree: int = 1, alpha: float = 0.0) -> str:
    """Fit a polynomial regression of ``degree`` (ridge when ``alpha``) on the prepared data,
    log its hold-out ``rmse``, save it: ModelDB registers the saved file as the next version."""
    from sklearn.linear_model import LinearRegression, Ridge
    from sklearn.metrics import mean_squared_error
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PolynomialFeatures

    from modeldb_core.sklearn import autolog

    autolog()  # the fit is recorded with a profile of its features: the reference of monitoring
    frame = pd.read_csv(prepared_path)
    X_train, X_test, y_train, y_test = train_test_split(frame[FEATURES], frame[TARGET], test_size=0.25,
                                                        random_state=0)
    model = make_pipeline(PolynomialFeatures(degree), Ridge(alpha=alpha) if alpha else LinearRegression())
    model.fit(X_train, y_train)
    mdb.log_metric("rmse", float(np.sqrt(mean_squared_error(y_test, model.predict(X_test)))))
    with open(model_path, "wb") as fh:
        pickle.dump(model, fh)
    return model_path
