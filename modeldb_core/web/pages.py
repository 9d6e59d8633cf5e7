"""The HTML pages. Each reads what it needs and renders one template."""
from __future__ import annotations

from modeldb_core.extras import require

require("fastapi", "ui", "the web UI")  # a missing extra is named
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from . import lineage as lineage_
from . import projects as projects_
from . import runs as runs_
from . import table as table_
from . import trained as trained_
from modeldb_core.errors import NotFoundError, QueryError, ValidationError

from .encode import clip, jsonable

router = APIRouter(include_in_schema=False)


def _store(request: Request):
    return request.app.state.store.get()


def _page(request: Request, template: str, **context) -> HTMLResponse:
    return request.app.state.renderer.page(request, template, context)


@router.get("/", response_class=HTMLResponse)
def projects_page(request: Request, offset: int = Query(0, ge=0, le=2**62),
                  limit: int = Query(projects_.PAGE_SIZE, ge=1, le=projects_.MAX_PAGE_SIZE)):
    found = projects_.summaries(_store(request), offset=offset, limit=limit)
    found["limit"] = limit if limit != projects_.PAGE_SIZE else None
    return _page(request, "projects.html", title="Projects", projects=found["projects"], page=found)


@router.get("/projects/{name:path}/trained", response_class=HTMLResponse)
def trained_page(request: Request, name: str, filter: str = "", q: str = "", order: str = "",
                 group: str = "", params: list[str] = Query([]), metrics: list[str] = Query([]),
                 cursor: str | None = Query(None, max_length=200)):
    """The models table: one row per trained model (docs/models.md), a page at a time. A bad
    filter shows inline."""
    store = _store(request)
    error = None
    try:
        found = trained_.table(store, name, filter=filter, q=q, order=order, group=group,
                               params=params, metrics=metrics, cursor=cursor)
    except QueryError as exc:
        error = exc
        found = trained_.table(store, name, params=params, metrics=metrics)
        found.models, found.groups = [], None
    state = {"filter": filter, "q": q, "order": order, "group": group, "params": params,
             "metrics": metrics, "cursor": cursor}
    sort_key, descending = table_.parse_order(order.lstrip("-"))
    if order.strip().startswith("-"):
        descending = True
    return _page(request, "trained.html", title=f"Models of {name}", t=found, state=state,
                 error=error, sort_key=sort_key, descending=descending)


@router.get("/projects/{name:path}", response_class=HTMLResponse)
def project_page(request: Request, name: str, metric: str = "", y: str = "", x: str = "",
                 view: str = "scatter"):
    """``metric``: the timeline's; ``y`` against ``x``: the meta-analysis chart's (the page
    picks a hyperparameter that varies across the runs when ``x`` is not given); ``view``:
    ``scatter`` (y against x) or ``parallel`` (parallel coordinates of the varying
    hyperparameters and y)."""
    project = projects_.summary(_store(request), name)
    keys = project["keys"]
    main = project["main_metric"]["key"] if project["main_metric"] else ""
    metric = metric if metric in keys["metrics"] else main
    explicit_y = y in keys["metrics"]
    y = y if explicit_y else metric
    x = x if x in keys["params"] else ""
    view = view if view in ("scatter", "parallel") else "scatter"
    return _page(request, "project.html", title=name, project=project, metric=metric, y=y, x=x,
                 explicit_y=explicit_y, view=view)


@router.get("/runs", response_class=HTMLResponse)
def runs_page(request: Request, project: str | None = None, filter: str = "", q: str = "",
              order: str = "", group: str = "", cols: str = "", col: list[str] = Query([]),
              cursor: str | None = None,
              limit: int = Query(table_.DEFAULT_LIMIT, ge=1, le=table_.MAX_LIMIT)):
    # The column chooser sends one ``col`` per box; shared links carry ``cols=a,b``.
    chosen = col or [c for c in cols.split(",") if c]
    state = table_.TableState(project=project or None, filter=filter, q=q, order=order,
                              group=group, cols=chosen,
                              cursor=cursor or None, limit=limit)
    data = table_.table(_store(request), state)
    sort_key, descending = table_.parse_order(order)
    return _page(request, "runs.html", title="Runs", t=data, state=state,
                 sort_key=sort_key, descending=descending)


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, run_id: str):
    try:
        run_id = runs_.check_id(run_id)
    except ValidationError:
        # An address that cannot name a run names nothing: a 404 to a reader.
        raise NotFoundError("run", run_id[:80]) from None
    run = runs_.detail(_store(request), run_id)
    return _page(request, "run.html", title=f"Run {run_id}: {run['run']['name']}", r=run)


@router.get("/lineage", response_class=HTMLResponse)
def lineage_page(request: Request, node: str = Query(..., max_length=64), direction: str = "both",
                 depth: int = Query(10, ge=1, le=50), offset: int = Query(0, ge=0, le=2**62)):
    graph = lineage_.graph(_store(request), node, direction=direction, depth=depth, offset=offset)
    root = graph["root_node"]
    artifact = None
    if root["kind"] == "artifact":
        artifact = clip(jsonable(_store(request).get_artifact_version(root["id"])), runs_.MAX_TEXT)
    return _page(request, "lineage.html", title=f"Lineage of {root['label']}", graph=graph,
                 root=root, direction=direction, depth=depth, artifact=artifact)


@router.get("/compare", response_class=HTMLResponse)
def compare_page(request: Request, ids: list[str] = Query([]), only_differences: bool = False):
    from modeldb_core.query.compare import check_run_ids, compare_in

    ids = check_run_ids(ids)
    comparison = compare_in(_store(request), ids)  # fewer than two runs: a 400 page
    rows = comparison.differing() if only_differences else comparison.rows
    return _page(request, "compare.html", title="Compare runs", c=comparison, rows=rows, ids=ids,
                 differences=len(comparison.differing()), only_differences=only_differences)


@router.get("/api-docs", response_class=HTMLResponse)
def api_docs(request: Request):
    """The JSON API's reference, rendered from its OpenAPI schema (no CDN, no script)."""
    schema = request.app.openapi()
    endpoints = []
    for path, operations in schema.get("paths", {}).items():
        for method, op in operations.items():
            params = [{"name": p.get("name"), "in": p.get("in"), "required": p.get("required", False),
                       "description": p.get("description") or (p.get("schema") or {}).get("description", ""),
                       "type": _type_of(p.get("schema") or {})}
                      for p in op.get("parameters", [])]
            endpoints.append({"method": method.upper(), "path": path, "summary": op.get("summary", ""),
                              "description": op.get("description", ""), "params": params})
    return _page(request, "api_docs.html", title="JSON API", endpoints=endpoints)


def _type_of(schema: dict) -> str:
    if "type" in schema:
        if schema["type"] == "array":
            return f"list of {_type_of(schema.get('items') or {})}"
        return str(schema["type"])
    options = [_type_of(s) for s in schema.get("anyOf", []) if s.get("type") != "null"]
    return " or ".join(options) or "any"
