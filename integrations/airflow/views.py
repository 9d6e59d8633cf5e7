"""What Airflow's UI shows of ModelDB: the mounted app and the links into it.

``/modeldb`` (in Airflow's API server) serves the ModelDB web app
(``modeldb_core.web.create_app``) behind ``RequireAirflowUser``. Next to it,
``/modeldb/airflow/...`` turns the ids Airflow's UI knows (DAG, DAG run, task
instance) into the ModelDB runs recorded for them: a page listing each run
with links to its detail and its lineage, or straight to the run when a
task instance has one.
"""
# No "from __future__ import annotations": FastAPI must see the real Request type
# of the route functions defined inside links_app().

import html
import threading
from typing import Any

MOUNT = "/modeldb"
_LIMIT = 500

# Airflow's UI fills {DAG_ID}, {RUN_ID}, {TASK_ID}, {MAP_INDEX} where the view is shown.
EXTERNAL_VIEWS = [
    {"name": "ModelDB", "href": f"{MOUNT}/", "destination": "nav", "url_route": "modeldb",
     "category": "browse"},
    {"name": "ModelDB models", "href": f"{MOUNT}/models", "destination": "nav", "url_route": "modeldb_models",
     "category": "browse"},
    {"name": "ModelDB runs", "href": f"{MOUNT}/airflow/dag/{{DAG_ID}}", "destination": "dag",
     "url_route": "modeldb_dag"},
    {"name": "ModelDB runs", "href": f"{MOUNT}/airflow/dag_run/{{DAG_ID}}/{{RUN_ID}}",
     "destination": "dag_run", "url_route": "modeldb_dag_run"},
    {"name": "ModelDB runs", "href": f"{MOUNT}/airflow/task/{{DAG_ID}}/{{TASK_ID}}",
     "destination": "task", "url_route": "modeldb_task"},
    {"name": "ModelDB run", "href": f"{MOUNT}/airflow/task_instance/{{DAG_ID}}/{{RUN_ID}}/{{TASK_ID}}/{{MAP_INDEX}}",
     "destination": "task_instance", "url_route": "modeldb_task_instance"},
]


class _Store:
    """The store, opened on the first request (building the app touches no database)."""

    def __init__(self, uri: str | None):
        self.uri = uri
        self._store = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        with self._lock:
            if self._store is None:
                from modeldb_core import config
                from modeldb_core.store import open_store

                self._store = open_store(config.resolve(uri=self.uri).uri)
            return self._store


def _runs(store: Any, dag_id: str, run_id: str | None = None, task_id: str | None = None,
          map_index: int | None = None) -> list[dict[str, Any]]:
    """Runs recorded for a DAG / DAG run / task / task instance, newest first."""
    from sqlalchemy import and_, select

    from modeldb_core.store import schema as t

    from .task_instance import ORCHESTRATOR, external_id

    runs = t.runs
    where = [runs.c.orchestrator == ORCHESTRATOR]
    if run_id is not None and task_id is not None:
        where.append(runs.c.external_id == external_id(dag_id, run_id, task_id, map_index))
    elif run_id is not None:
        where.append(runs.c.external_id.startswith(f"{dag_id}/{run_id}/", autoescape=True))
    else:
        where.append(runs.c.external_id.startswith(f"{dag_id}/", autoescape=True))
    query = (select(runs.c.uuid.label("id"), runs.c.name, runs.c.status, runs.c.phase, runs.c.external_id,
                    runs.c.try_number, runs.c.started_at)
             .where(and_(*where)).order_by(runs.c.started_at.desc(), runs.c.id.desc()).limit(_LIMIT))
    with store.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    if task_id is not None and run_id is None:
        # "/<task>" or "/<task>[i]" at the end of "<dag>/<run>/<task>..."
        rows = [r for r in rows if r["external_id"].rsplit("/", 1)[-1].split("[", 1)[0] == task_id]
    return rows


def _page(root: str, title: str, rows: list[dict[str, Any]]) -> str:
    import datetime as dt

    e = html.escape
    body = []
    for r in rows:
        started = dt.datetime.fromtimestamp(r["started_at"], dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        body.append(
            f"<tr><td><a href=\"{e(root)}/runs/{r['id']}\">{r['id']}</a></td><td>{e(r['name'])}</td>"
            f"<td>{e(r['external_id'] or '')}</td><td>{r['try_number'] or ''}</td>"
            f"<td>{e(r['phase'] or '')}</td><td>{e(r['status'])}</td><td>{started} UTC</td>"
            f"<td><a href=\"{e(root)}/lineage?node=run:{r['id']}\">lineage</a></td></tr>")
    table = ("<table><thead><tr><th>run</th><th>task</th><th>Airflow id</th><th>try</th><th>phase</th>"
             "<th>status</th><th>started</th><th></th></tr></thead><tbody>" + "".join(body)
             + "</tbody></table>") if rows else "<p>ModelDB has recorded no run for this yet.</p>"
    return (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{e(title)} - ModelDB</title>"
            "<style>body{font:14px system-ui,sans-serif;margin:1.5em}table{border-collapse:collapse}"
            "td,th{padding:.3em .8em;border-bottom:1px solid #ddd;text-align:left}</style></head>"
            f"<body><h1>{e(title)}</h1><p><a href=\"{e(root)}/\">ModelDB home</a></p>{table}</body></html>")


def links_app(uri: str | None = None) -> Any:
    """The ``/airflow/...`` routes: from Airflow ids to ModelDB runs."""
    from fastapi import APIRouter, Request
    from fastapi.responses import HTMLResponse, RedirectResponse

    store = _Store(uri)
    router = APIRouter(prefix="/airflow", include_in_schema=False)

    def root(request: Request) -> str:
        return request.scope.get("root_path", "").rstrip("/")

    def respond(request: Request, title: str, rows: list[dict[str, Any]]):
        if "application/json" in request.headers.get("accept", ""):
            from fastapi.responses import JSONResponse

            return JSONResponse({"runs": rows})
        return HTMLResponse(_page(root(request), title, rows))

    @router.get("/dag/{dag_id}")
    def dag_runs(request: Request, dag_id: str):
        return respond(request, f"DAG {dag_id}", _runs(store.get(), dag_id))

    @router.get("/dag_run/{dag_id}/{run_id:path}")
    def dag_run_runs(request: Request, dag_id: str, run_id: str):
        return respond(request, f"DAG run {dag_id} / {run_id}", _runs(store.get(), dag_id, run_id))

    @router.get("/task/{dag_id}/{task_id}")
    def task_runs(request: Request, dag_id: str, task_id: str):
        return respond(request, f"Task {dag_id}.{task_id}", _runs(store.get(), dag_id, task_id=task_id))

    @router.get("/task_instance/{dag_id}/{run_id}/{task_id}/{map_index}")
    def task_instance_runs(request: Request, dag_id: str, run_id: str, task_id: str, map_index: str):
        index = int(map_index) if map_index.lstrip("-").isdigit() else -1
        rows = _runs(store.get(), dag_id, run_id, task_id, index)
        if len(rows) == 1 and "application/json" not in request.headers.get("accept", ""):
            return RedirectResponse(f"{root(request)}/runs/{rows[0]['id']}", status_code=303)
        return respond(request, f"Task instance {dag_id}.{task_id} in {run_id}", rows)

    return router


def build(uri: str | None = None) -> Any:
    """The app Airflow mounts: the Airflow links, then the ModelDB web app, behind Airflow's login."""
    from fastapi import FastAPI

    from modeldb_core.web import create_app

    from .auth import RequireAirflowUser

    outer = FastAPI(title="ModelDB in Airflow", docs_url=None, redoc_url=None, openapi_url=None)
    outer.include_router(links_app(uri))
    outer.mount("/", create_app(uri))
    return RequireAirflowUser(outer)


class ModelDBMount:
    """The ASGI app in the plugin's ``fastapi_apps``, built on its first request.

    Every Airflow process loads plugins (workers too, for the listener); only
    the API server ever calls this, so only it pays for FastAPI and the web app.
    """

    def __init__(self, uri: str | None = None):
        self.uri = uri
        self._app: Any = None
        self._lock = threading.Lock()

    def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        if self._app is None:
            with self._lock:
                if self._app is None:
                    self._app = build(self.uri)
        return self._app(scope, receive, send)
