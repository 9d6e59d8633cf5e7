"""One ``luigi.build`` = one pipeline run.

Luigi sends no "build started" or "build finished" event, so a build is found
in one of two ways:

- ``modeldb_core.integrations.luigi.build(...)`` (the exact way) opens the
  pipeline run before calling ``luigi.build`` and ends it with Luigi's own
  verdict (``LuigiRunResult``) afterwards. Forked workers inherit it.
- a plain ``luigi.build`` / ``luigi.run`` / ``luigi`` command (the fallback):
  the Luigi ``Worker`` driving the build is found on the call stack of the
  event (it is there in forked workers too: a fork copies the stack), and its
  id — unique per build, it carries a random salt, the host and the pid — is
  the pipeline run's external id. The root is the first task the build was
  given. The pipeline run ends *succeeded* when the root task succeeds or was
  already complete, *failed* at the first task failure, broken task, timeout,
  dead worker process or missing external dependency, and, if none of that
  happened, *failed* when the next build starts in the process or the process
  exits.

The pipeline is named after the root task family (several roots: joined by
``+``) and versioned by its structure: the task families of the static
dependency graph (``requires()``) and the edges between them. Families, not
task ids, so a daily pipeline keeps one version across its dates.
"""
from __future__ import annotations

import os
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterable

from modeldb_core.client import TrackingClient
from modeldb_core.runtime import on_exit
from modeldb_core.model import RunStatus
from modeldb_core.safety import safe_call

ORCHESTRATOR = "luigi"
# A graph walk stops here: a structure is for people to read and to version.
MAX_STRUCTURE_TASKS = 10_000
# How far up the stack an event looks for the Luigi worker driving it.
MAX_FRAMES = 120


@dataclass
class Build:
    """A pipeline run this process knows about."""

    pipeline_run_id: str
    external_id: str
    project: str
    root_ids: tuple[str, ...]
    started_at: float
    explicit: bool
    store_uri: str = ""
    pid: int = field(default_factory=os.getpid)
    ended: bool = False
    failing: set = field(default_factory=set)  # tasks that failed and have not succeeded since (a retry)


_lock = threading.RLock()
_explicit: list[Build] = []          # builds opened by build(), innermost last
_by_worker: dict[str, Build] = {}    # fallback builds, by Luigi worker id
_worker_codes: set[Any] | None = None
_add_code: Any = None


def structure(roots: Iterable[Any]) -> dict[str, Any]:
    """Task families and family edges of the static dependency graph of ``roots``."""
    from luigi.task import flatten

    families: set[str] = set()
    edges: set[tuple[str, str]] = set()
    seen: set[str] = set()
    stack = list(roots)
    while stack and len(seen) < MAX_STRUCTURE_TASKS:
        task = stack.pop()
        if task.task_id in seen:
            continue
        seen.add(task.task_id)
        families.add(task.task_family)
        try:
            deps = flatten(task.requires())
        except Exception:  # noqa: BLE001 - Luigi reports a broken requires() itself
            deps = []
        for dep in deps:
            if hasattr(dep, "task_family"):
                edges.add((dep.task_family, task.task_family))
                stack.append(dep)
    return {"tasks": sorted(families), "edges": [list(e) for e in sorted(edges)],
            "roots": sorted({getattr(r, "task_family", str(r)) for r in roots})}


def _project_of(task: Any, default: str | None, client: TrackingClient) -> str:
    declared = getattr(task, "modeldb_project", None)
    return str(declared or default or client.settings.project)


def open_build(client: TrackingClient, roots: list[Any], external_id: str, explicit: bool,
               project: str | None = None, name: str | None = None) -> Build:
    """Create (or find) the pipeline and its run for a build of ``roots``."""
    started = time.time()
    project = _project_of(roots[0], project, client) if roots else (project or client.settings.project)
    name = name or "+".join(dict.fromkeys(r.task_family for r in roots)) or "luigi"
    pipeline = client.pipeline(project, name[:500], ORCHESTRATOR, structure(roots))
    prun = client.pipeline_run(pipeline, external_id, started_at=started)
    return Build(pipeline_run_id=prun, external_id=external_id,
                 project=project, root_ids=tuple(r.task_id for r in roots), started_at=started,
                 explicit=explicit, store_uri=client.settings.uri)


def new_external_id(client: TrackingClient) -> str:
    return f"{client.host}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


# -- the explicit way: build() ---------------------------------------------------
def push(build: Build) -> None:
    with _lock:
        _explicit.append(build)


def pop(build: Build) -> None:
    with _lock:
        if build in _explicit:
            _explicit.remove(build)


# -- the fallback: the Luigi worker on the stack -----------------------------------
def _codes() -> set[Any]:
    global _worker_codes, _add_code
    if _worker_codes is None:
        from luigi.worker import Worker

        codes = set()
        for value in vars(Worker).values():
            code = getattr(value, "__code__", None)
            if code is not None:
                codes.add(code)
        _add_code = Worker.add.__code__
        _worker_codes = codes
    return _worker_codes


def find_worker(depth: int = 2) -> tuple[Any, Any] | None:
    """The Luigi worker whose build is running, and the task it is adding if any."""
    codes = _codes()
    try:
        frame = sys._getframe(depth)
    except ValueError:
        return None
    worker, adding = None, None
    for _ in range(MAX_FRAMES):
        if frame is None:
            break
        if frame.f_code in codes:
            worker = frame.f_locals.get("self")
            if frame.f_code is _add_code:
                adding = frame.f_locals.get("task")
                break
            if worker is not None and frame.f_code.co_name != "_add":
                break  # run(), _run_task(), _purge_children(): the root is already known
        frame = frame.f_back
    return (worker, adding) if worker is not None else None


def try_number(task: Any) -> int | None:
    """Which execution of ``task`` this is: its failures so far in Luigi's in-process scheduler, plus
    one (a forked worker sees the scheduler as it was at the fork, after the earlier tries failed).
    None with a central scheduler (``luigid``), whose state is in another process."""
    found = find_worker(depth=2)
    state = getattr(getattr(found[0], "_scheduler", None), "_state", None) if found else None
    entry = state.get_task(task.task_id) if hasattr(state, "get_task") else None
    failures = getattr(entry, "failures", None)
    return len(failures) + 1 if failures is not None else None


def current(client: TrackingClient, task: Any, project: str | None = None) -> Build | None:
    """The build ``task``'s event belongs to, opening a fallback one if needed."""
    if _explicit:
        return _explicit[-1]
    found = find_worker(depth=3)
    if found is None:
        return None
    worker, adding = found
    key = getattr(worker, "_id", None)
    if not key:
        return None
    build = _by_worker.get(key)
    if build is not None:
        return build
    with _lock:
        build = _by_worker.get(key)
        if build is None:
            root = None
            first = getattr(worker, "_first_task", None)
            if first is not None:
                root = getattr(worker, "_scheduled_tasks", {}).get(first)
            if root is None and adding is not None and getattr(adding, "task_id", None) == first:
                root = adding
            if root is None:
                root = adding if adding is not None else task
            safe_call("end the previous Luigi builds", close_stale, client)
            build = open_build(client, [root], key, explicit=False, project=project)
            _by_worker[key] = build
    return build


def finish(client: TrackingClient, build: Build | None, status: str, task_id: str | None = None) -> None:
    """End a fallback build's pipeline run (an explicit one is ended by build()): failed when
    ``task_id`` failed, succeeded when the root succeeded and no task is still failing (a task
    Luigi retried until it succeeded fails nothing; in this process: forked workers each end
    the pipeline run themselves, the last one to end it decides)."""
    if build is None or build.explicit:
        return
    if status == RunStatus.FAILED.value:
        build.failing.add(task_id)
    elif build.failing:
        return  # a failure decided it
    build.ended = True
    client.end_pipeline_run(build.pipeline_run_id, status)


def close_stale(client: TrackingClient) -> None:
    """End the fallback builds this process opened and nobody ended (the build is over)."""
    pid = os.getpid()
    for key, build in list(_by_worker.items()):
        if build.pid != pid or build.store_uri != client.settings.uri:
            _by_worker.pop(key, None)  # the parent's business, or another store's
            continue
        _by_worker.pop(key, None)
        if not build.ended:
            # A forked worker may have ended it already (the root ran there): that end stays.
            client.end_pipeline_run(build.pipeline_run_id, RunStatus.FAILED.value, if_running=True)


def _at_exit() -> None:
    if not any(b.pid == os.getpid() and not b.ended for b in _by_worker.values()):
        return
    from modeldb_core.client import get_client

    safe_call("end the Luigi builds left open", close_stale, get_client())


on_exit(_at_exit)
