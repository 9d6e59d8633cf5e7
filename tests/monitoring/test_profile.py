"""Data profiles: what a training data set's profile holds, its bounds, and where it is kept."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd

import modeldb_core as mdb
from modeldb_core.monitoring.profile import build_profile, dumps, reference_cdf
from modeldb_core.monitoring.reference import PROFILE_TAG, load_profile, profile_tags


def test_a_frame_profile_counts_nulls_nan_inf_and_describes_each_column():
    frame = pd.DataFrame({
        "price": [1.0, np.nan, np.inf, 3.0, 5.0, -np.inf],
        "city": ["paris", None, "lyon", "paris", "paris", "nice"],
        "rooms": pd.array([1, None, 2, 3, 3, 3], dtype="Int64"),
        "garden": [True, False, True, True, False, True],
    })
    profile = build_profile(frame, max_rows=1000, max_bytes=65536)
    assert profile["rows"] == 6 and profile["profiled_rows"] == 6 and profile["sampled"] is False
    price = profile["columns"]["price"]
    assert (price["kind"], price["count"], price["nulls"], price["nan"], price["inf"]) == ("numeric", 5, 1, 1, 2)
    assert (price["min"], price["max"], price["mean"]) == (1.0, 5.0, 3.0)
    assert price["quantiles"]["0.5"] == 3.0 and price["sketch"]["type"] == "kll_floats"
    values, cdf = reference_cdf(price)
    assert list(values) == [1.0, 3.0, 5.0] and cdf[-1] == 1.0
    city = profile["columns"]["city"]
    assert city["kind"] == "categorical" and city["nulls"] == 1 and city["distinct"] == 3
    assert city["top"][0] == ["paris", 3]
    rooms = profile["columns"]["rooms"]
    assert rooms["kind"] == "numeric" and rooms["nulls"] == 1 and rooms["top"] == [["1.0", 1], ["2.0", 1], ["3.0", 3]]
    assert profile["columns"]["garden"]["kind"] == "categorical"


def test_arrays_are_profiled_with_columns_named_by_position():
    assert list(build_profile(np.arange(10.0), 1000, 65536)["columns"]) == ["0"]
    profile = build_profile(np.random.default_rng(0).normal(size=(500, 3)), 1000, 65536)
    assert list(profile["columns"]) == ["0", "1", "2"]
    assert abs(profile["columns"]["1"]["mean"]) < 0.2


def test_a_large_data_set_is_profiled_on_a_seeded_sample_and_stays_within_the_byte_budget():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(30_000, 300)), columns=[f"feature_{i}" for i in range(300)])
    frame["segment"] = rng.choice([f"segment-{i}" for i in range(500)], size=len(frame))
    first = build_profile(frame, max_rows=5000, max_bytes=65536)
    assert first["rows"] == 30_000 and first["profiled_rows"] == 5000 and first["sampled"] is True
    assert len(dumps(first).encode()) <= 65536
    again = build_profile(frame, max_rows=5000, max_bytes=65536)
    for profile in (first, again):  # a KLL sketch compacts at random: the rest is the same
        for column in profile["columns"].values():
            column.pop("sketch", None)
    assert dumps(first) == dumps(again)  # the same seeded sample
    segment = first["columns"].get("segment")
    assert segment is None or len(segment["top"]) == 20
    narrow = build_profile(frame.iloc[:, :10], max_rows=5000, max_bytes=65536)
    assert narrow["columns"]["feature_0"]["sketch"]["k"] == 200


def test_profiling_modules_do_not_make_import_modeldb_core_heavy():
    code = ("import sys, modeldb_core, modeldb_core.monitoring, modeldb_core.monitoring.profile, "
            "modeldb_core.monitoring.drift, modeldb_core.monitoring.reference, modeldb_core.monitoring.status\n"
            "heavy = [m for m in ('numpy', 'pandas', 'scipy', 'datasketches', 'sklearn') if m in sys.modules]\n"
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_scikit_learn_fit_keeps_the_profile_of_its_training_data_beside_the_fingerprint(tracking):
    from sklearn.linear_model import Ridge

    from modeldb_core.sklearn import autolog

    rng = np.random.default_rng(2)
    X = pd.DataFrame(rng.normal(size=(400, 3)), columns=["area", "age", "floor"])
    autolog()
    try:
        Ridge().fit(X, X["area"] * 2)
    finally:
        autolog(disable=True)
    mdb.flush()
    record = mdb.search_runs('phase = "training"').runs[0]
    detail = tracking.store.get_run_detail(record.id)
    assert [i.name for i in detail.inputs if i.name == "X_train"] == ["X_train"]
    profiles = profile_tags(detail.tags)
    assert list(profiles) == ["X_train"]
    profile = load_profile(profiles["X_train"])
    assert list(profile["columns"]) == ["area", "age", "floor"] and profile["rows"] == 400


def test_a_tracked_training_task_profiles_its_dataframe_input_and_a_failing_profile_breaks_nothing(tracking):
    frame = pd.DataFrame({"x": np.arange(100.0), "label": ["a", "b"] * 50})

    @mdb.tracked_task(phase="training", name="train")
    def train(data, weird):
        return len(data)

    class Odd:  # not profilable: recorded as a param, the task still runs
        pass

    assert train(frame, Odd()) == 100
    mdb.flush()
    detail = tracking.store.get_run_detail(mdb.search_runs('name = "train"').runs[0].id)
    assert set(profile_tags(detail.tags)) == {"data"}
    assert json.loads(json.dumps(load_profile(detail.tags[PROFILE_TAG + "data"])))["columns"]["label"]["top"] \
        == [["a", 50], ["b", 50]]
