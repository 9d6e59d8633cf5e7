"""``autolog(register_model=...)``: a real scikit-learn fit registers its model; it loads back."""
from __future__ import annotations

import pytest

import modeldb_core as mdb
from modeldb_core.errors import ValidationError


def test_a_fit_registers_its_model_and_load_model_gives_it_back(tracking):
    from sklearn.linear_model import Ridge

    from modeldb_core.sklearn import autolog

    autolog(register_model="house-prices")
    try:
        X, y = [[0.0], [1.0], [2.0], [3.0]], [0.0, 1.0, 2.0, 3.0]
        Ridge(alpha=0.1).fit(X, y)
        Ridge(alpha=0.1).fit(X, y)  # the same bytes again: the same version
        Ridge(alpha=10.0).fit(X, y)
    finally:
        autolog(disable=True)
    mdb.flush()
    versions = tracking.store.model_versions("house-prices")
    assert [v.version for v in versions] == [1, 2]
    assert "training_score" in versions[0].metrics
    model = mdb.load_model("models:/house-prices/2")
    assert model.alpha == 10.0 and abs(model.predict([[4.0]])[0] - 4.0) < 2.0


def test_a_bad_name_is_refused_when_turning_it_on():
    from modeldb_core.sklearn import autolog

    with pytest.raises(ValidationError, match="register_model"):
        autolog(register_model="bad@name")
    autolog(disable=True)
