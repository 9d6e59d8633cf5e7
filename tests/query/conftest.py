"""A small, known set of runs in a real store (SQLite and PostgreSQL)."""
from __future__ import annotations

import math
from datetime import datetime, timezone

import pytest

from modeldb_core.events import NOTE, Event
from modeldb_core.model import Metric, NewRun


def ts(day: str) -> float:
    return datetime.fromisoformat(day).replace(tzinfo=timezone.utc).timestamp()


# name, project, phase, status, started, params, metrics, tags
RUNS = [
    ("rf-1", "pricing", "training", "succeeded", "2026-11-02", {"model": "rf", "depth": 9, "lr": 0.1},
     {"rmse": 0.80, "r2": 0.7}, {"team": "pricing"}),
    ("rf-2", "pricing", "training", "succeeded", "2026-11-03", {"model": "rf", "depth": 10, "lr": 0.05},
     {"rmse": 0.70, "r2": 0.8}, {"team": "pricing"}),
    ("rf-3", "pricing", "training", "failed", "2026-11-04", {"model": "rf", "depth": 12},
     {"rmse": 0.95}, {"team": "pricing"}),
    ("gbm-1", "pricing", "training", "succeeded", "2026-10-20", {"model": "gbm", "depth": 3, "lr": 0.3},
     {"rmse": 0.60, "r2": 0.85}, {"team": "pricing"}),
    ("gbm-2", "pricing", "training", "succeeded", "2026-11-05", {"model": "gbm", "depth": 4},
     {"rmse": math.nan}, {"team": "risk"}),
    ("RF-upper", "pricing", "evaluation", "succeeded", "2026-11-06", {"model": "RF"},
     {"rmse": 0.50}, {}),
    ("linear", "churn", "training", "succeeded", "2026-11-07", {"model": "linear", "depth": "none"},
     {"rmse": 1.20}, {"team": "churn", "note": "baseline"}),
    ("prep", "churn", "data_prep", "succeeded", "2026-11-01", {}, {}, {}),
]


def make_runs(store) -> dict[str, int]:
    """Create ``RUNS`` through the bulk path; returns name -> id."""
    new = []
    for name, project, phase, status, day, params, metrics, tags in RUNS:
        started = ts(day)
        new.append(NewRun(
            project=project, name=name, phase=phase, status=status, started_at=started,
            ended_at=started + 60, params=params, tags=tags,
            metrics=[Metric(key=k, value=v, step=0, timestamp=started) for k, v in metrics.items()]))
    ids = store.create_runs(new)
    by_name = dict(zip([r[0] for r in RUNS], ids))
    store.apply_events([Event(NOTE, by_name["linear"], 1, {"text": "Baseline before the holiday features",
                                                             "at": ts("2026-11-01")})])
    return by_name


@pytest.fixture
def runs(store):
    return make_runs(store)
