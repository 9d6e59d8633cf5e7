"""The JSON API under ``/api/``: what the pages use, and what remote clients may use."""
from __future__ import annotations

from typing import Any

from modeldb_core.extras import require
from modeldb_core.models_table import MAX_PAGE_SIZE, PAGE_SIZE

require("fastapi", "ui", "the web UI")  # a missing extra is named
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from . import lineage as lineage_
from . import projects as projects_
from . import runs as runs_
from . import table as table_
from . import trained as trained_
from .encode import clip, jsonable

router = APIRouter(prefix="/api", tags=["api"])


def _store(request: Request):
    return request.app.state.store.get()


@router.get("/projects", summary="The projects with their aggregates, a page at a time",
            description=f"By name, at most {projects_.MAX_PAGE_SIZE:,} a page (default "
                        f"{projects_.PAGE_SIZE}); `total` counts them all, `more.offset` fetches the "
                        f"next page. Each lists at most {projects_.MAX_METRIC_NAMES} metric names "
                        "(`metrics_total` counts them).")
def list_projects(request: Request, offset: int = Query(0, ge=0, le=2**62),
                  limit: int = Query(projects_.PAGE_SIZE, ge=1, le=projects_.MAX_PAGE_SIZE)) -> dict[str, Any]:
    return jsonable(projects_.summaries(_store(request), offset=offset, limit=limit))


@router.get("/projects/{name:path}/points",
            summary="A metric's latest value for each run of a project (the timeline and "
                    "meta-analysis charts)",
            description="Points as columns, oldest run first: `points.run_id[i]`, `name[i]`, "
                        "`status[i]`, `started_at[i]`, `value[i]` (and `params[i]` when asked) "
                        "describe one run. NaN and infinities are the strings \"NaN\", \"Infinity\", "
                        "\"-Infinity\".")
def project_points(request: Request, name: str, metric: str,
                   limit: int = Query(10_000, ge=1, le=100_000, description="newest runs first"),
                   params: list[str] = Query([], description="params to include with each point"),
                   all_params: bool = Query(False, description="include every param of each run")):
    chosen: bool | list[str] = True if all_params else (params or False)
    # Returned as a ready response: 10,000 points skip per-item response validation.
    return JSONResponse(projects_.points(_store(request), name, metric, limit=limit, params=chosen))


@router.get("/projects/{name:path}/trained",
            summary="The models a project trained: one row per model, with its training params and "
                    "every metric it earned (docs/models.md)",
            description="Filter with the query language (params are the training run's, metrics the "
                        "model's, under aligned names), free-text search, sort, group by a param or tag. "
                        f"At most {MAX_PAGE_SIZE:,} models a page (default {PAGE_SIZE}); `matched` counts "
                        "them all, `next_cursor` fetches the next page.")
def project_models(request: Request, name: str,
                   filter: str = Query("", description="e.g. metrics.rmse < 30 and params.learning_rate >= 0.05"),
                   q: str = Query("", description="free-text search"),
                   order: str = Query("", description="sort, e.g. 'metrics.rmse' or '-params.epochs' "
                                                      "(default: the main metric, best first)"),
                   group: str = Query("", description="params.<key> or tags.<key>"),
                   params: list[str] = Query([], description="param columns (default: those that vary)"),
                   metrics: list[str] = Query([], description="metric columns (default: the main metric first)"),
                   limit: int = Query(PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="models on this page"),
                   cursor: str | None = Query(None, max_length=200,
                                              description="`next_cursor` of the previous page")
                   ) -> dict[str, Any]:
    found = trained_.table(_store(request), name, filter=filter, q=q, order=order, group=group,
                           params=params, metrics=metrics, limit=limit, cursor=cursor)
    return trained_.as_json(found)


@router.get("/projects/{name:path}", summary="One project: aggregates and its metric, param and tag keys")
def get_project(request: Request, name: str) -> dict[str, Any]:
    return jsonable(projects_.summary(_store(request), name))


@router.get("/runs", summary="Runs: filter language, free-text search, sorting, cursor paging")
def list_runs(request: Request,
              filter: str = Query("", description="query language, e.g. metrics.rmse < 30 and params.lr = 0.1"),
              project: str | None = None,
              q: str = Query("", description="free-text search"),
              order: str = Query("", description="sort, e.g. 'metrics.rmse asc' or 'started_at desc'"),
              cursor: str | None = None,
              limit: int = Query(table_.DEFAULT_LIMIT, ge=1, le=table_.MAX_LIMIT)) -> dict[str, Any]:
    state = table_.TableState(project=project, filter=filter, q=q, order=order, cursor=cursor,
                              limit=limit)
    store = _store(request)
    page = table_.search(store, state)  # a QueryError becomes a 400 with its position
    return table_.bounded_page(state, page)


@router.get("/runs/groups", summary="Runs grouped by a param or tag, with counts and aggregates")
def group_runs(request: Request, group: str = Query(..., description="params.<key>, tags.<key> or a run field"),
               filter: str = "", project: str | None = None, q: str = "",
               metrics: list[str] = Query([], description="metrics to aggregate per group")) -> dict[str, Any]:
    state = table_.TableState(project=project, filter=filter, q=q, group=group)
    found = table_.groups(_store(request), state, metrics)
    more = len(found) > table_.MAX_GROUPS
    return {"group": group, "groups": found[:table_.MAX_GROUPS], "more": more}


@router.get("/runs/{run_id}", summary="Everything recorded about one run")
def get_run(request: Request, run_id: str) -> dict[str, Any]:
    return runs_.detail(_store(request), runs_.check_id(run_id))


@router.get("/runs/{run_id}/metrics/{key:path}", summary="One metric's time series of a run",
            description=f"At most {runs_.MAX_POINTS:,} points from `offset`; `more` gives the next offset.")
def metric_series(request: Request, run_id: str, key: str,
                  offset: int = Query(0, ge=0, le=2**62)) -> dict[str, Any]:
    return runs_.metric_series(_store(request), runs_.check_id(run_id), key, offset=offset)


@router.get("/lineage", summary="The lineage graph around run:<id> or artifact:<id>",
            description=f"At most {lineage_.MAX_NODES} nodes, nearest to the root first; "
                        "`more.offset` fetches the next ones.")
def lineage(request: Request, node: str = Query(..., max_length=64),
            direction: str = Query("both", description="up, down or both"),
            depth: int = Query(10, ge=1, le=50),
            offset: int = Query(0, ge=0, le=2**62),
            limit: int = Query(lineage_.MAX_NODES, ge=1, le=lineage_.MAX_NODES)) -> dict[str, Any]:
    return lineage_.graph(_store(request), node, direction=direction, depth=depth, offset=offset,
                          limit=limit)


@router.get("/compare", summary="Runs side by side, with the differing rows marked")
def compare(request: Request, ids: list[str] = Query(..., description="two or more run ids")) -> dict[str, Any]:
    from modeldb_core.query.compare import compare_in

    # The data of `modeldb runs compare --all --json`: one definition (query/compare.py).
    return clip(jsonable(compare_in(_store(request), ids).as_dict()), runs_.MAX_TEXT)
