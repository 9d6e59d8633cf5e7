"""A run as the run page and ``/api/runs/{id}`` show it."""
from __future__ import annotations

from typing import Any

from modeldb_core.errors import NotFoundError
from modeldb_core.model import RunDetail, RunIO
from modeldb_core.store import MetadataStore

from .encode import jsonable

# A run page lists at most this many child runs by name (the rest by count).
MAX_CHILDREN = 200


def _io(item: RunIO) -> dict[str, Any]:
    a = item.artifact
    return {"name": item.name, "uri": a.uri, "kind": a.kind, "content_hash": a.content_hash,
            "short_hash": a.content_hash.split(":")[-1][:12], "size": a.size,
            "metadata": jsonable(a.metadata), "fingerprint_method": a.fingerprint_method,
            "artifact_version_id": a.id}


def _brief(run) -> dict[str, Any]:
    return {"id": run.id, "name": run.name, "status": run.status, "phase": run.phase,
            "project": run.project, "started_at": run.started_at}


def runs_by_id(store: MetadataStore, run_ids: list[str], chunk: int = 500) -> dict[str, Any]:
    """Many runs in a few statements (one search per ``chunk`` ids), not one read each."""
    from modeldb_core.query import search_runs

    found: dict[str, Any] = {}
    ids = [str(i) for i in dict.fromkeys(run_ids)]
    for start in range(0, len(ids), chunk):
        part = ids[start:start + chunk]
        listed = ", ".join(f'"{i}"' for i in part if all(c in "0123456789abcdef-" for c in i))
        page = search_runs(f"id in ({listed})", limit=len(part), store=store)
        found.update((record.run.id, record.run) for record in page.runs)
    return found


def detail(store: MetadataStore, run_id: str) -> dict[str, Any]:
    d: RunDetail = store.get_run_detail(run_id)
    run = d.run
    parent = None
    if run.parent_run_id is not None:
        try:
            parent = _brief(store.get_run(run.parent_run_id))
        except NotFoundError:
            parent = {"id": run.parent_run_id, "name": None}
    shown = d.children[:MAX_CHILDREN]
    found = runs_by_id(store, shown) if shown else {}
    children = [_brief(found[i]) for i in shown if i in found]
    return {
        "run": {**jsonable(run), "duration": run.duration},
        "params": jsonable(d.params),
        "metrics": jsonable(d.metrics),
        "series": {k: len(v) for k, v in d.metric_history.items()},
        "tags": dict(d.tags),
        "notes": [{"text": n.text, "created_at": n.created_at} for n in d.notes],
        "inputs": [_io(i) for i in d.inputs],
        "outputs": [_io(o) for o in d.outputs],
        "code_version": jsonable(d.code_version) if d.code_version else None,
        "environment": jsonable(d.environment) if d.environment else None,
        "parent": parent,
        "children": children,
        "children_total": len(d.children),
        "error": ({"type": run.error_type, "message": run.error_message,
                   "traceback": run.error_traceback} if run.error_type or run.error_message else None),
        "estimator_graph": estimator_graph(d),
    }


def metric_series(store: MetadataStore, run_id: str, key: str) -> dict[str, Any]:
    run_id = store.get_run(run_id).id  # a 404 for an unknown run, not an empty series
    history = store.metric_history(run_id, key)
    if not history:
        raise NotFoundError(f"metric {key!r} of run", run_id)
    return {"run_id": run_id, "key": key,
            "points": [{"step": m.step, "value": jsonable(m.value), "timestamp": m.timestamp}
                       for m in history]}


def estimator_graph(d: RunDetail) -> dict[str, Any] | None:
    """The step graph of a scikit-learn estimator recorded with the run, if any."""
    from .estimators import graph_of

    return graph_of(d)
