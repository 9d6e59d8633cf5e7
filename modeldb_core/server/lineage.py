"""``POST /api/v1/lineage``: OpenLineage events (spec 2-0-2) in, checked against the official
JSON schema (``openlineage-2-0-2.json``, from the OpenLineage repository's
``spec/OpenLineage.json``), then applied as tracking events (``modeldb_core/openlineage.py``)."""
from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from .app import audit, read_body
from fastapi import Depends, FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from modeldb_core import openlineage
from modeldb_core.errors import ValidationError
from modeldb_core.events import PIPELINE_STARTED
from modeldb_core.extras import require

SCHEMA = Path(__file__).with_name("openlineage-2-0-2.json")
LINEAGE_PATH = "/api/v1/lineage"
MAX_EVENTS = 1_000


def _kind_schemas() -> dict[str, dict[str, Any]]:
    """The schema of each kind of event: an error then names the field, where the schema's
    top-level ``oneOf`` would only say that no kind matched."""
    schema = json.loads(SCHEMA.read_text())
    return {kind: {"$schema": schema["$schema"], "$id": schema["$id"], "$defs": schema["$defs"],
                   "$ref": f"#/$defs/{kind}"} for kind in ("RunEvent", "DatasetEvent", "JobEvent")}


@functools.lru_cache(maxsize=None)
def _validators() -> dict[str, Any]:
    """The reference validator per kind (``jsonschema``): it names the failing field."""
    jsonschema = require("jsonschema", "server", "OpenLineage validation")
    return {kind: jsonschema.Draft202012Validator(sub, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
            for kind, sub in _kind_schemas().items()}


@functools.lru_cache(maxsize=None)
def _fast_validators() -> dict[str, Any]:
    """A compiled validator per kind (``jsonschema-rs``), formats checked: it only says whether
    an event is valid, about 50 times faster than the reference, which then looks only at
    the events it refuses (and has the last word)."""
    jsonschema_rs = require("jsonschema_rs", "server", "OpenLineage validation")
    return {kind: jsonschema_rs.Draft202012Validator(sub, validate_formats=True)
            for kind, sub in _kind_schemas().items()}


def check(event: Any, where: str = "") -> dict[str, Any]:
    """``event`` if it is a valid OpenLineage event; else ValidationError naming the field."""
    if not isinstance(event, dict):
        raise ValidationError(where or "body", event, "must be an OpenLineage event (a JSON object)")
    kind = "RunEvent" if "run" in event else "DatasetEvent" if "dataset" in event else "JobEvent"
    if _fast_validators()[kind].is_valid(event):
        return event
    validator = _validators()[kind]
    error = next(iter(sorted(validator.iter_errors(event), key=lambda e: list(e.absolute_path))), None)
    if error is not None:
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        field = (where + path).lstrip(".") or kind
        raise ValidationError(field, error.instance, f"{error.message} (OpenLineage 2-0-2 {kind})")
    return event


def register(app: FastAPI, access) -> None:
    def apply(events: list[dict[str, Any]]) -> int:
        store = app.state.store.get()
        known: dict[str, str | None] = {}  # one lookup per dataset of a request

        def latest_hash(uri: str) -> str | None:
            if uri not in known:
                versions = [v for v in store.find_artifact_versions(uri) if v.uri == uri]
                known[uri] = versions[-1].content_hash if versions else None
            return known[uri]

        batch, pipeline_runs = [], set()
        for event in events:
            for made in openlineage.events_from(event, latest_hash):
                if made.kind == PIPELINE_STARTED:
                    if made.subject in pipeline_runs:
                        continue  # the tasks of one DAG run name it alike
                    pipeline_runs.add(made.subject)
                batch.append(made)
        app.state.apply_events(batch, {})
        return len(batch)

    @app.get(LINEAGE_PATH)
    async def get_lineage(node_id: str = Query(..., alias="nodeId", max_length=2000),
                          depth: int = Query(20, ge=1, le=100), token=Depends(access("read"))):
        return await run_in_threadpool(marquez_graph, app.state.store.get(), node_id, depth)

    @app.post(LINEAGE_PATH, status_code=201)
    async def post_lineage(request: Request, token=Depends(access("write"))):
        try:
            body = json.loads(await read_body(request))
        except ValueError as exc:
            raise ValidationError("body", None, f"is not JSON: {exc}") from None
        events = body if isinstance(body, list) else [body]
        if len(events) > MAX_EVENTS:
            raise ValidationError("body", f"{len(events):,} events", f"the limit is {MAX_EVENTS:,} a request")
        for i, event in enumerate(events):
            check(event, f"[{i}]" if isinstance(body, list) else "")
            if "eventTime" in event:
                openlineage.seconds("eventTime", event["eventTime"])
        applied = await run_in_threadpool(apply, events)
        app.state.counters.add(openlineage_events_total=len(events))
        audit(token, "OpenLineage events", len(events))
        return JSONResponse({"accepted": len(events), "applied": applied}, status_code=201)


def marquez_graph(store: Any, node_id: str, depth: int) -> dict[str, Any]:
    """The lineage around ``dataset:<namespace>:<name>`` or ``job:<namespace>:<name>`` in
    Marquez's graph shape: datasets are artifacts (every version folded into one node), jobs
    are runs by project and name."""
    kind, _, rest = node_id.partition(":")
    if kind == "job":
        namespace, _, name = rest.rpartition(":")
    else:
        namespace, name = _dataset_parts(rest)
    if kind not in ("dataset", "job") or not namespace or not name:
        raise ValidationError("nodeId", node_id, "must be dataset:<namespace>:<name> or job:<namespace>:<name>")
    if kind == "dataset":
        uri = openlineage.dataset_uri(namespace, name)
        starts = [f"artifact:{v.id}" for v in store.find_artifact_versions(uri) if v.uri == uri]
    else:
        from modeldb_core.query import build_query

        query = build_query(f'name = "{_quoted(name)}"', project=namespace)
        starts = [f"run:{r.run.id}" for r in store.search_runs(query, limit=100)]
    if not starts:
        from modeldb_core.errors import NotFoundError

        raise NotFoundError(kind, f"{namespace}:{name}")
    edges: set[tuple[str, str]] = set()
    nodes: set[str] = set(starts)
    for start in starts:
        for direction in ("up", "down"):
            graph = store.lineage(start, direction=direction, depth=depth)
            nodes |= {f"{n.kind}:{n.id}" for n in graph.nodes}
            edges |= {(e.source, e.target) for e in graph.edges}
    names = {key: _marquez_id(store, key) for key in nodes}
    graph: dict[str, dict[str, Any]] = {}
    for key in nodes:
        found = names[key]
        node_kind, node_namespace, node_name = found.split(":", 2) if found.startswith("job:") \
            else ("dataset", *_dataset_parts(found[len("dataset:"):]))
        graph.setdefault(found, {"id": found, "type": node_kind.upper(),
                                 "data": {"namespace": node_namespace, "name": node_name},
                                 "inEdges": [], "outEdges": []})
    for source, target in sorted(edges):
        edge = {"origin": names[source], "destination": names[target]}
        if edge not in graph[names[source]]["outEdges"]:
            graph[names[source]]["outEdges"].append(edge)
            graph[names[target]]["inEdges"].append(edge)
    return {"graph": sorted(graph.values(), key=lambda n: n["id"])}


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _dataset_parts(rest: str) -> tuple[str, str]:
    """``<namespace>:<name>`` of a dataset node id, where a namespace may hold ``://`` and a port."""
    if "://" in rest:
        scheme, _, after = rest.partition("://")
        authority, sep, name = after.partition(":")
        if sep and name[:1].isdigit() and ":" in name:  # host:port:name
            port, _, name = name.partition(":")
            authority = f"{authority}:{port}"
        return f"{scheme}://{authority}", name
    namespace, _, name = rest.partition(":")
    return namespace, name


def _marquez_id(store: Any, key: str) -> str:
    kind, _, ident = key.partition(":")
    if kind == "run":
        run = store.get_run(ident)
        return f"job:{run.project}:{run.name}"
    namespace, name = openlineage.dataset_name(store.get_artifact_version(int(ident)).uri)
    return f"dataset:{namespace}:{name}"
