"""Deployments in the web app: a model's deployments per environment (a timeline and a table),
a deployment's page, and their JSON (``/api/deployments``, ``/api/models/{name}/deployments``)."""
from __future__ import annotations

import time
from typing import Any

from modeldb_core.extras import require

require("fastapi", "ui", "the web UI")  # a missing extra is named
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from modeldb_core.errors import ValidationError
from modeldb_core.registry import names

from .encode import jsonable

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["api"])

# The timeline's drawing: an SVG (the page's CSP allows no inline style), 1000 units wide.
WIDTH = 1000.0
LANE = 22
# One color per version, cycled: versions next to each other differ.
COLORS = ("#3b6fd8", "#d8843b", "#3ba55c", "#a33bd8", "#d83b5e", "#2aa1a8")


def _store(request: Request):
    return request.app.state.store.get()


def parse_at(value: str | None) -> float | None:
    """``at`` of a request: seconds since the epoch or an ISO 8601 time (no zone: UTC)."""
    if value is None or not value.strip():
        return None
    try:
        return float(value)
    except ValueError:
        pass
    from modeldb_core.query.language import parse_time

    try:
        return parse_time(value)
    except ValueError as exc:
        raise ValidationError("at", value, str(exc)) from None


def as_json(d: Any) -> dict[str, Any]:
    out = jsonable(d)
    out.update(uri=d.uri, serving=d.serving)
    return out


def timelines(found: list[Any], now: float | None = None) -> list[dict[str, Any]]:
    """Per environment, which version served when: lanes (one per version) of bars, in SVG units."""
    now = time.time() if now is None else now
    by_env: dict[str, list[Any]] = {}
    for d in found:
        by_env.setdefault(d.environment, []).append(d)
    out = []
    for environment, items in sorted(by_env.items()):
        start = min(d.since for d in items)
        end = max([now] + [d.until for d in items if d.until is not None])
        span = max(end - start, 1e-6)
        versions = sorted({(d.model, d.version) for d in items})
        lane = {v: i for i, v in enumerate(versions)}
        bars = []
        for d in items:
            x = (d.since - start) / span * WIDTH
            until = d.until if d.until is not None else end
            bars.append({"id": d.id, "x": round(x, 1), "y": lane[(d.model, d.version)] * LANE + 2,
                         "width": round(max((until - d.since) / span * WIDTH, 3.0), 1), "height": LANE - 6,
                         "color": COLORS[d.version % len(COLORS)], "state": d.state, "deployment": d,
                         "label": f"{d.model} v{d.version}"
                                  + (f" ({d.traffic:g} of the traffic)" if d.traffic is not None else "")})
        out.append({"environment": environment, "start": start, "end": end, "height": len(versions) * LANE,
                    "lanes": [{"label": f"{m} v{v}", "y": i * LANE + LANE / 2 + 2} for i, (m, v) in enumerate(versions)],
                    "bars": bars, "deployments": list(reversed(items))})
    return out


@pages.get("/deployments/{number}", response_class=HTMLResponse)
def deployment_page(request: Request, number: str):
    store = _store(request)
    d = store.get_deployment(number)
    # What else served in its environment while it did, and the audit events about it.
    neighbours = [x for x in store.deployments(environment=d.environment, history=True)
                  if x.id != d.id and x.since < (d.until or float("inf")) and (x.until is None or x.until > d.since)]
    audit = [e for e in store.audit_events(names.model_uri(d.model, d.project), limit=None)
             if e.action.startswith("deployment.") and d.id in _mentioned(e)]
    return request.app.state.renderer.page(request, "deployment.html", {
        "title": f"Deployment {d.id}", "d": d, "neighbours": neighbours, "audit": audit})


def _mentioned(event: Any) -> set[int]:
    return {side.get(key) for side in (event.before or {}, event.after or {})
            for key in ("deployment", "replaced_by") if isinstance(side, dict)}


@api.get("/deployments", summary="What serves now, or what served at ?at= (ISO 8601 or seconds); "
                                 "?environment=, ?model=, ?history=true for every deployment")
def list_deployments(request: Request, at: str | None = None, environment: str | None = None,
                     model: str | None = None, history: bool = False) -> list[dict[str, Any]]:
    found = _store(request).deployments(model=model or None, environment=environment or None, at=parse_at(at),
                                        history=history)
    return [as_json(d) for d in found]


@api.get("/deployments/{number}", summary="One deployment")
def get_deployment(request: Request, number: str) -> dict[str, Any]:
    return as_json(_store(request).get_deployment(number))


@api.get("/models/{name}/deployments", summary="A model's deployments per environment, oldest first, "
                                               "and what serves now (?at=: what served then)")
def model_deployments(request: Request, name: str, at: str | None = None,
                      project: str | None = None) -> dict[str, Any]:
    store = _store(request)
    model = store.get_model(name, project=project or None)
    moment = parse_at(at)
    history = store.deployments(model=model.uri, history=True)
    serving = store.deployments(model=model.uri, at=moment)
    environments: dict[str, list[dict[str, Any]]] = {}
    for d in history:
        environments.setdefault(d.environment, []).append(as_json(d))
    return {"model": model.name, "at": moment, "serving": [as_json(d) for d in serving],
            "environments": environments}
