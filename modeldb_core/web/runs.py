"""A run as the run page and ``/api/runs/{id}`` show it (``modeldb_core.query.detail``)."""
from __future__ import annotations

from typing import Any

from modeldb_core.errors import NotFoundError
from modeldb_core.store import MetadataStore

from .encode import clip, jsonable

# A metric series is served this many points at a time.
MAX_POINTS = 10_000
# Text recorded with a run (params, tags, notes, errors, URIs) is shown up to this many characters.
MAX_TEXT = 100_000


def check_id(value: Any) -> str:
    """A run id from a URL, refused (400) before the store sees it (an old number stays accepted)."""
    from modeldb_core.validation import record_id

    return str(record_id("run id", value))


def detail(store: MetadataStore, run_id: str) -> dict[str, Any]:
    """The run's detail (``modeldb_core.query.detail``: the same as ``modeldb runs show --json``),
    its long text cut."""
    from modeldb_core.query.detail import run_detail

    return clip(run_detail(store, run_id), MAX_TEXT)


def metric_series(store: MetadataStore, run_id: str, key: str, offset: int = 0) -> dict[str, Any]:
    run_id = store.get_run(run_id).id  # a 404 for an unknown run, not an empty series
    history = store.metric_history(run_id, key)
    if not history:
        raise NotFoundError(f"metric {key!r} of run", run_id)
    shown = history[offset:offset + MAX_POINTS]
    end = offset + len(shown)
    return {"run_id": run_id, "key": key, "total_points": len(history), "offset": offset,
            "points": [{"step": m.step, "value": jsonable(m.value), "timestamp": m.timestamp}
                       for m in shown],
            "more": {"offset": end} if end < len(history) else None}
