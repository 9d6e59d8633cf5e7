"""ModelDB tracking for Luigi, without changing the tasks.

Turn it on in one of three ways (each is enough):

- ``modeldb_core.integrations.luigi.track()`` once, before ``luigi.build``;
- ``modeldb_core.integrations.luigi.build(tasks, **luigi_options)`` in place of
  ``luigi.build``: tracks, and groups the build into one pipeline run exactly;
- the Luigi config switch (for the ``luigi`` command, no code at all)::

      [worker]
      task_process_context = modeldb_core.integrations.luigi.TrackingContext

Each task execution becomes a run named after its task family, with the
task id as external id, its significant parameters as params, its phase,
status, timing, the exception when it fails, the code version of the task's
module, its ``input()`` targets as inputs and ``output()`` targets as outputs.
See README ("Luigi") for the rules.
"""
from __future__ import annotations

import threading
from typing import Any, Iterable

from .context import TrackingContext
from .mixin import TrackedTask

__all__ = ["track", "untrack", "is_tracking", "build", "TrackingContext", "TrackedTask"]

_lock = threading.Lock()
_registered: dict[str, Any] = {}


def track(project: str | None = None, default_phase: str | None = None) -> None:
    """Register ModelDB's handlers for every Luigi task event (calling it again is harmless).

    ``project`` is where runs go unless a task says otherwise (``modeldb_project``);
    ``default_phase`` is the phase of tasks that declare none (default: no phase).
    """
    import luigi

    from modeldb_core import validation

    from . import handlers

    if project is not None:
        handlers.options.project = validation.name("project", project)
    if default_phase is not None:
        handlers.options.default_phase = validation.phase(default_phase)
    with _lock:
        if _registered:
            return
        from . import calls

        calls.install()  # tracking reads what Luigi's own requires()/output() calls returned
        for event, handler in handlers.handlers().items():
            luigi.Task.event_handler(event)(handler)
            _registered[event] = handler


def untrack() -> None:
    """Remove the handlers ``track()`` registered."""
    import luigi

    with _lock:
        for event, handler in list(_registered.items()):
            try:
                luigi.Task.remove_event_handler(event, handler)
            except KeyError:
                pass
            _registered.pop(event, None)
        from . import calls

        calls.uninstall()


def is_tracking() -> bool:
    return bool(_registered)


def build(tasks: Iterable[Any], *, project: str | None = None, pipeline: str | None = None,
          detailed_summary: bool = False, **luigi_options: Any) -> Any:
    """``luigi.build`` as one pipeline run; returns what ``luigi.build`` returns.

    ``pipeline`` names the pipeline (default: the root task families joined by
    ``+``); ``project`` is the project of the pipeline and of runs whose task
    declares none. The pipeline run ends with Luigi's verdict: *succeeded* when
    every task ran or was complete, *skipped* when the scheduler let nothing
    run, *failed* otherwise, *killed* when the build was interrupted.
    """
    import luigi
    from luigi.execution_summary import LuigiStatusCode

    from modeldb_core.client import get_client
    from modeldb_core.model import RunStatus
    from modeldb_core.run import status_for
    from modeldb_core.safety import safe_call

    from . import builds

    tasks = list(tasks)
    track()
    client = get_client()
    opened = None
    if not client.disabled and tasks:
        opened = safe_call("open the Luigi build", builds.open_build, client, tasks,
                           builds.new_external_id(client), True, project=project, name=pipeline)
    if opened is None:
        return luigi.build(tasks, detailed_summary=detailed_summary, **luigi_options)
    builds.push(opened)
    try:
        result = luigi.build(tasks, detailed_summary=True, **luigi_options)
    except BaseException as exc:
        safe_call("end the Luigi build", client.end_pipeline_run, opened.pipeline_run_id, status_for(exc))
        raise
    finally:
        builds.pop(opened)
    if result.status in (LuigiStatusCode.SUCCESS, LuigiStatusCode.SUCCESS_WITH_RETRY):
        status = RunStatus.SUCCEEDED.value
    elif result.status is LuigiStatusCode.NOT_RUN:
        status = RunStatus.SKIPPED.value
    else:
        status = RunStatus.FAILED.value
    safe_call("end the Luigi build", client.end_pipeline_run, opened.pipeline_run_id, status)
    return result if detailed_summary else result.scheduling_succeeded
