"""The registry in the web app: the Models page, a model's page, its report, and their JSON."""
from __future__ import annotations

from typing import Any

from modeldb_core.extras import require

require("fastapi", "ui", "the web UI")  # a missing extra is named
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from modeldb_core.registry import names, report as reports

from .deployments import as_json, timelines
from .encode import jsonable

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["api"])


def _store(request: Request):
    return request.app.state.store.get()


def _main_metric(store, model) -> str | None:
    """The metric a model is judged by: its production policy's, else the first of its newest version."""
    for rules in store.policies(model.uri).values():
        beat = rules.get("beat_holder")
        if beat:
            return beat["metric"]
        for bound in rules.get("thresholds", []):
            return bound.split()[0]
    return None


def models_summary(store) -> list[dict[str, Any]]:
    out = []
    for m in store.list_models():
        metric = _main_metric(store, m)
        latest = store.resolve_model(m.uri) if m.latest_version else None
        if metric is None and latest is not None and latest.metrics:
            metric = sorted(latest.metrics)[0]
        out.append({"name": m.name, "project": m.project, "owner": m.owner, "description": m.description,
                    "aliases": m.aliases, "latest_version": m.latest_version, "main_metric": metric,
                    "main_value": latest.metrics.get(metric) if latest is not None and metric else None})
    return out


def model_detail(store, name: str, project: str | None = None) -> dict[str, Any]:
    """A model's page data; ``project`` is needed when several projects hold ``name``."""
    model = store.get_model(name, project=project or None)
    named = model.uri
    return {"model": jsonable(model), "versions": jsonable(store.model_versions(named)),
            "alias_history": jsonable(store.alias_history(named)),
            "policies": store.policies(named), "approvals": jsonable(store.approvals(named)),
            "audit": jsonable(store.audit_events(named, limit=None)),
            "deployments": [as_json(d) for d in store.deployments(model=named, history=True)]}


def _ref(name: str, ref: str, project: str | None) -> str:
    """The report's reference: ``ref``, else the model's newest version; in ``project`` when given."""
    return str(names.qualify(names.parse(ref or name), project or None))


@pages.get("/models", response_class=HTMLResponse)
def models_page(request: Request):
    return request.app.state.renderer.page(request, "models.html", {"title": "Models",
                                                                    "models": models_summary(_store(request))})


@pages.get("/models/{name}/report", response_class=HTMLResponse)
def report_page(request: Request, name: str, ref: str = "", project: str | None = None):
    report = reports.build(_store(request), _ref(name, ref, project))
    return request.app.state.renderer.page(request, "model_report.html", {"title": report["title"],
                                                                          "report": report})


@pages.get("/models/{name}", response_class=HTMLResponse)
def model_page(request: Request, name: str, project: str | None = None):
    store = _store(request)
    detail = model_detail(store, name, project)
    named = names.model_uri(detail["model"]["name"], detail["model"]["project"])
    environments = timelines(store.deployments(model=named, history=True))
    return request.app.state.renderer.page(request, "model.html", {"title": detail["model"]["name"], "m": detail,
                                                                   "environments": environments})


@api.get("/models", summary="Registered models: aliases, newest version, owner, main metric")
def list_models(request: Request) -> list[dict[str, Any]]:
    return jsonable(models_summary(_store(request)))


@api.get("/models/{name}", summary="One model: versions, alias history, policies, approvals, audit events, "
                                   "deployments")
def get_model(request: Request, name: str, project: str | None = None) -> dict[str, Any]:
    return model_detail(_store(request), name, project)


@api.get("/models/{name}/report", summary="The provenance report of a version (ref: models:/name@alias or /N)")
def get_report(request: Request, name: str, ref: str = "", project: str | None = None) -> dict[str, Any]:
    return jsonable(reports.build(_store(request), _ref(name, ref, project)))
