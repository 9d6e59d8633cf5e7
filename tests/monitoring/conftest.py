"""A model monitored in ``prod``: the fixture of the monitoring page, API and CLI tests."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import modeldb_core as mdb

FEATURES = ["area", "age", "floor"]


def _batch(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    frame = pd.DataFrame(np.random.default_rng(seed).normal(size=(rows, 3)), columns=FEATURES)
    frame["area"] += shift
    return frame


@pytest.fixture
def monitored(sqlite_uri):
    """A registered scikit-learn model with 4 unchanged then 3 shifted batches monitored in ``prod``."""
    from sklearn.linear_model import Ridge

    from modeldb_core.sklearn import autolog

    client = mdb.configure(uri=sqlite_uri)
    train = _batch(3000, seed=1)
    autolog(register_model="pricing")
    try:
        model = Ridge().fit(train, train["area"] * 2)
    finally:
        autolog(disable=True)
    mdb.flush()
    for n in range(7):
        batch = _batch(500, seed=10 + n, shift=0.0 if n < 4 else 1.0)
        labels = batch["area"] * 2
        mdb.monitor("models:/pricing/1", batch=batch, predictions=model.predict(batch), labels=labels,
                    deployment="prod")
    mdb.flush()
    client.close()
    return sqlite_uri


