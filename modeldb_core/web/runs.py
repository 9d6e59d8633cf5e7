"""A run as the run page and ``/api/runs/{id}`` show it."""
from __future__ import annotations

from typing import Any

from modeldb_core.errors import NotFoundError, StoreError
from modeldb_core.model import RunDetail, RunIO
from modeldb_core.store import MetadataStore

from modeldb_core.presentation import short_hash

from .encode import clip, jsonable

# A run page lists at most this many child runs by name (the rest by count).
MAX_CHILDREN = 200
# A metric series is served this many points at a time.
MAX_POINTS = 10_000
# Text recorded with a run (params, tags, notes, errors, URIs) is shown up to this many characters.
MAX_TEXT = 100_000


def check_id(value: Any) -> str:
    """A run id from a URL, refused (400) before the store sees it (an old number stays accepted)."""
    from modeldb_core.validation import record_id

    return str(record_id("run id", value))


def _io(item: RunIO) -> dict[str, Any]:
    a = item.artifact
    return {"name": item.name, "uri": a.uri, "kind": a.kind, "content_hash": a.content_hash,
            "short_hash": short_hash(a.content_hash), "size": a.size,
            "metadata": jsonable(a.metadata), "fingerprint_method": a.fingerprint_method,
            "artifact_version_id": a.id}


def _brief(run) -> dict[str, Any]:
    return {"id": run.id, "name": run.name, "status": run.status, "phase": run.phase,
            "project": run.project, "started_at": run.started_at}


def runs_by_id(store: MetadataStore, run_ids: list[str], chunk: int = 500) -> dict[str, Any]:
    """Many runs in a few statements (one search per ``chunk`` ids), not one read each."""
    from modeldb_core.query import Field, RunQuery
    from modeldb_core.query.language import In

    found: dict[str, Any] = {}
    ids = [str(i) for i in dict.fromkeys(run_ids)]
    for start in range(0, len(ids), chunk):
        part = tuple(ids[start:start + chunk])
        # Built as a query, not as filter text: the ids are the store's own, not a user's filter.
        query = RunQuery(filter=In(Field("attr", "id"), part), project=None, search=None, order=())
        found.update((record.run.id, record.run) for record in store.search_runs(query, limit=len(part)))
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
    return clip({
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
        "reproduction": reproduction(store, run.id),
    }, MAX_TEXT)


# A page checks inputs up to this size by their hash, larger ones by their size.
PLAN_HASH_LIMIT = 16 * 1024 * 1024


def reproduction(store: MetadataStore, run_id: str) -> dict[str, Any] | None:
    """Whether the run can be reproduced (the plan's blockers), what it reproduces, and its
    reproductions with their verdicts (``modeldb_core.reproduction``)."""
    from modeldb_core.artifact_store import ArtifactStore
    from modeldb_core.reproduction.plan import make_plan

    try:
        of, reproductions = store.reproductions(run_id)
        plan = make_plan(store, run_id, ArtifactStore(), hash_limit=PLAN_HASH_LIMIT)
    except (NotImplementedError, StoreError):  # a remote store without reproduction
        return None
    return {
        "reproducible": plan.reproducible, "kind": plan.kind, "entry_point": plan.entry_point,
        "blockers": [{"problem": b.problem, "fix": b.fix} for b in plan.blockers],
        "seed": plan.seed, "unseeded": plan.unseeded,
        "packages": [{"package": p.package, "recorded": p.recorded, "current": p.current} for p in plan.packages],
        "reproduces": _reproduction(of, of.original_run_id) if of else None,
        "reproductions": [_reproduction(r, r.run_id) for r in reproductions],
    }


def _reproduction(r: Any, other: str) -> dict[str, Any]:
    return {"run_id": other, "verdict": r.verdict, "created_at": r.created_at,
            "likely_causes": list(r.details.get("likely_causes", [])),
            "differences": [d.get("name") for d in r.details.get("differences", [])]}


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


def estimator_graph(d: RunDetail) -> dict[str, Any] | None:
    """The step graph of a scikit-learn estimator recorded with the run, if any."""
    from .estimators import graph_of

    return graph_of(d)
