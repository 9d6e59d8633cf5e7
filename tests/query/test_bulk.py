"""The bulk write path stores exactly what the ordinary path stores, on both databases."""
from __future__ import annotations

import math

import pytest

from modeldb_core import search_runs
from modeldb_core.bulk import log_runs
from modeldb_core.errors import ValidationError
from modeldb_core.model import Metric, NewRun

PARAMS = {"model": "rf", "depth": 9, "lr": 0.1, "big": 12345678901, "flag": True, "none": None,
          "ratio": math.inf, "list": [1, "a"], "text_number": "10", "unicode": "héllo ✓"}


def _new(name: str) -> NewRun:
    return NewRun(project="bulk", name=name, phase="training", status="succeeded", started_at=1000.0,
                  ended_at=1010.0, params=dict(PARAMS), tags={"team": "pricing"},
                  metrics=[Metric("rmse", 0.9, 0, 1000.0), Metric("rmse", 0.7, 1, 1001.0),
                           Metric("loss", math.nan, 0, 1000.0)])


def _comparable(detail):
    run = detail.run
    return (run.name, run.project, run.phase, run.status, run.started_at, run.ended_at, detail.params,
            {k: ("nan" if v != v else v) for k, v in detail.metrics.items()},
            {k: [(m.step, m.value if m.value == m.value else "nan") for m in v]
             for k, v in detail.metric_history.items()}, detail.tags)


def test_bulk_and_ordinary_paths_store_the_same_run(store):
    (ordinary,) = store.create_runs([_new("same")])
    bulk_ids = store.bulk_create_runs([_new("same"), _new("same")])
    assert len(set(bulk_ids)) == 2 and ordinary not in bulk_ids
    reference = _comparable(store.get_run_detail(ordinary))
    for run_id in bulk_ids:
        assert _comparable(store.get_run_detail(run_id)) == reference
    # ...and the query layer sees bulk runs like any other.
    page = search_runs('params.depth = 9 and params.text_number = "10" and metrics.rmse < 0.8',
                       store=store)
    assert sorted(r.id for r in page) == sorted([ordinary, *bulk_ids])
    assert page.runs[0].metrics["rmse"] == 0.7


def test_log_runs_validates_then_writes_in_batches(store):
    records = [{"name": f"r{i}", "params": {"i": i, "model": "rf" if i % 2 else "gbm"},
                "metrics": {"rmse": 1.0 / (i + 1), "loss": [0.9, 0.5, 0.3]}, "tags": {"k": i},
                "phase": "training"} for i in range(25)]
    ids = log_runs(records, project="sweep", batch_size=10, store=store)
    assert len(ids) == 25 and ids == sorted(ids)
    detail = store.get_run_detail(ids[3])
    assert detail.run.project == "sweep" and detail.run.status == "succeeded"
    assert detail.params == {"i": 3, "model": "rf"}
    assert detail.tags == {"k": "3"}
    assert [m.value for m in detail.metric_history["loss"]] == [0.9, 0.5, 0.3]
    assert detail.metrics["loss"] == 0.3
    best = search_runs("project = 'sweep'", order_by="metrics.rmse", limit=1, store=store)
    assert best.runs[0].id == ids[-1]


@pytest.mark.parametrize("record, words", [
    ({"name": "x", "phase": "trainning"}, "phase"),
    ({"name": "x", "status": "done"}, "status"),
    ({"name": "x", "params": {"": 1}}, "runs[1].params key"),
    ({"name": "x", "metrics": {"rmse": "low"}}, "runs[1].metrics.rmse"),
    ({"name": "x", "colour": "red"}, "is not a run field"),
])
def test_an_invalid_record_refuses_its_batch(store, record, words):
    with pytest.raises(ValidationError, match=words.replace("[", r"\[").replace("]", r"\]")):
        log_runs([{"name": "fine"}, record], project="bad", store=store)
    assert len(search_runs("project = 'bad'", store=store)) == 0
