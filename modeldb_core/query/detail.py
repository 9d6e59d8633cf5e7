"""What a run's detail is: the one definition that ``modeldb runs show`` (its text and ``--json``),
the web's run page and ``/api/runs/{id}`` all show.

``run_detail(store, run)`` is a JSON-able dict in the shape of every JSON answer
(docs/cli.md): snake_case keys, times as ISO 8601 with their time zone, NaN and
infinities as strings. Its keys, in order:

- ``run``: every field of the run, ``duration`` in seconds;
- ``params``, ``metrics`` (latest values), ``series`` (points per metric) and
  ``metric_history`` (``{key: [{value, step, timestamp}]}``), ``tags``, ``notes``;
- ``inputs`` and ``outputs``: ``{direction, name, uri, kind, content_hash,
  short_hash, size, metadata, fingerprint_method, artifact_version_id,
  artifact_id, created_at}``, the hash shortened to ``HASH_LENGTH`` digits;
- ``code_version``, ``environment``;
- ``parent`` and ``children`` (``{id, name, status, phase, project, started_at}``,
  the first ``MAX_CHILDREN``), ``children_total``;
- ``error`` (``{type, message, traceback}``) or null;
- ``estimator_graph``: the step graph of a scikit-learn estimator, or null;
- ``reproduction``: whether the run can be reproduced (the plan's blockers), the run it
  reproduces and its reproductions with their verdicts; null for a store without them.

The web answer cuts text longer than 100,000 characters (``web/runs.py``); the
command prints it whole.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modeldb_core.errors import NotFoundError, StoreError
from modeldb_core.presentation import iso, plain, short_hash

if TYPE_CHECKING:
    from modeldb_core.model import Run, RunIO
    from modeldb_core.store import MetadataStore

# A run's detail names at most this many child runs (the rest are counted in ``children_total``).
MAX_CHILDREN = 200
# The reproduction plan checks inputs up to this size by their hash, larger ones by their size.
PLAN_HASH_LIMIT = 16 * 1024 * 1024
_TIMES = ("started_at", "ended_at", "created_at", "heartbeat_at")


def _times(record: dict[str, Any]) -> dict[str, Any]:
    return {k: iso(v) if k in _TIMES and isinstance(v, (int, float)) and not isinstance(v, bool) else v
            for k, v in record.items()}


def run_fields(run: "Run") -> dict[str, Any]:
    """Every field of a run for JSON, ``duration`` in seconds."""
    # vars(), not dataclasses.asdict: a Run holds only plain values, and asdict deep-copies.
    return {**_times(vars(run)), "duration": run.duration}


def io_fields(item: "RunIO") -> dict[str, Any]:
    a = item.artifact
    return {"direction": item.direction, "name": item.name, "uri": a.uri, "kind": a.kind,
            "content_hash": a.content_hash, "short_hash": short_hash(a.content_hash), "size": a.size,
            "metadata": plain(a.metadata), "fingerprint_method": a.fingerprint_method,
            "artifact_version_id": a.id, "artifact_id": a.artifact_id, "created_at": iso(a.created_at)}


def _brief(run: "Run") -> dict[str, Any]:
    return {"id": run.id, "name": run.name, "status": run.status, "phase": run.phase,
            "project": run.project, "started_at": iso(run.started_at)}


def runs_by_id(store: "MetadataStore", run_ids: list[str], chunk: int = 500) -> dict[str, Any]:
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


def run_detail(store: "MetadataStore", run_id: str) -> dict[str, Any]:
    """Everything recorded about a run (the shape above); ``NotFoundError`` for an unknown run."""
    from modeldb_core.web.estimators import graph_of

    d = store.get_run_detail(run_id)
    run = d.run
    parent = None
    if run.parent_run_id is not None:
        try:
            parent = _brief(store.get_run(run.parent_run_id))
        except NotFoundError:
            parent = {"id": run.parent_run_id, "name": None}
    shown = list(d.children[:MAX_CHILDREN])
    found = runs_by_id(store, shown) if shown else {}
    return {
        "run": run_fields(run),
        "params": plain(d.params),
        "metrics": plain(d.metrics),
        "series": {k: len(v) for k, v in d.metric_history.items()},
        "metric_history": {k: [{"value": plain(m.value), "step": m.step, "timestamp": iso(m.timestamp)}
                               for m in v] for k, v in d.metric_history.items()},
        "tags": dict(d.tags),
        "notes": [{"text": n.text, "created_at": iso(n.created_at)} for n in d.notes],
        "inputs": [io_fields(i) for i in d.inputs],
        "outputs": [io_fields(o) for o in d.outputs],
        "code_version": _times(plain(d.code_version)) if d.code_version else None,
        "environment": _times(plain(d.environment)) if d.environment else None,
        "parent": parent,
        "children": [_brief(found[i]) for i in shown if i in found],
        "children_total": len(d.children),
        "error": ({"type": run.error_type, "message": run.error_message,
                   "traceback": run.error_traceback} if run.error_type or run.error_message else None),
        "estimator_graph": graph_of(d),
        "reproduction": reproduction(store, run.id),
    }


def reproduction(store: "MetadataStore", run_id: str) -> dict[str, Any] | None:
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
    return {"run_id": other, "verdict": r.verdict, "created_at": iso(r.created_at),
            "likely_causes": list(r.details.get("likely_causes", [])),
            "differences": [d.get("name") for d in r.details.get("differences", [])]}


__all__ = ["MAX_CHILDREN", "io_fields", "reproduction", "run_detail", "run_fields", "runs_by_id"]
