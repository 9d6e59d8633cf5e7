"""Data profiles, monitoring runs and drift (docs/monitoring.md).

``profile`` builds a data set's profile, ``reference`` keeps it and finds a model
version's training profile, ``drift`` compares a batch with it, ``batch`` records a
monitoring run, ``status`` reads the latest state and the degradation rule. numpy,
pandas, scipy and DataSketches are imported inside functions only.
"""
from __future__ import annotations

from typing import Any


def monitor(target: str, batch: Any = None, predictions: Any = None, labels: Any = None,
            deployment: str | None = None, **options: Any) -> Any:
    """Record a monitoring run of ``batch`` against ``target``'s training profile (see
    ``monitoring.batch.monitor``); never raises into the caller's code."""
    from .batch import monitor as run_monitor

    return run_monitor(target, batch=batch, predictions=predictions, labels=labels,
                       deployment=deployment, **options)


def profile(data: Any, max_rows: int | None = None, max_bytes: int | None = None) -> dict[str, Any]:
    """The profile of a DataFrame or array (a plain JSON dict)."""
    from .profile import build_profile

    return build_profile(data, max_rows, max_bytes)
