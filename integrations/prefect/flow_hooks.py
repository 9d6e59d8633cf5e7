"""Flow state hooks: a Prefect flow run becomes a pipeline run.

``on_running`` creates the pipeline (project, flow name, ``prefect``, a
structure holding the flow's version and the tasks its code names) and the
pipeline run (external id: the flow run id). The terminal hooks end the task
runs no task hook ended (cancelled or crashed task runs, tasks cut off by the
flow's end) and then the pipeline run, with the status of the flow's final
state: Completed -> succeeded, Failed -> failed, Cancelling/Cancelled ->
killed, Crashed -> killed when an interrupt, exit or termination signal
stopped it, failed for any other crash.
"""
from __future__ import annotations

import types
from typing import Any, Callable

from modeldb_core.client import get_client
from modeldb_core.client import flush
from modeldb_core.model import RunStatus
from modeldb_core.safety import safe_call

from . import flow_run, task_run
from .flow_run import Options


def structure(flow: Any) -> dict[str, Any]:
    """The flow's version and the names of the Prefect tasks its code refers to (sorted)."""
    from prefect.tasks import Task

    fn = flow.fn
    names: set[str] = set()
    scope = dict(getattr(fn, "__globals__", {}))
    for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or (), strict=False):
        try:
            scope[name] = cell.cell_contents
        except ValueError:  # a cell not yet filled
            pass

    def visit(code: types.CodeType) -> None:
        for name in code.co_names + code.co_freevars:
            if isinstance(scope.get(name), Task):
                names.add(scope[name].name)
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                visit(const)

    visit(fn.__code__)
    return {"version": flow.version, "tasks": sorted(names), "edges": []}


def status_of(state: Any) -> str:
    if state.is_completed():
        return RunStatus.SUCCEEDED.value
    if state.is_cancelled() or state.is_cancelling():
        return RunStatus.KILLED.value
    if state.is_crashed():
        return task_run.crash_status(state)
    return RunStatus.FAILED.value


def _running(options: Options, shape: dict[str, Any], flow: Any, run: Any) -> None:
    flow_run.begin(flow, run, options, shape)


def _ended(run: Any, state: Any) -> None:
    record = flow_run.finish(run.id)
    if record is None:
        return
    status = status_of(state)
    task_run.end_left_open(record, status, state)
    # Quick task runs wait in the core's batch queue: the flow run (and the flow call) ends after them.
    flush()
    if record.pipeline_run_id is not None:
        get_client().end_pipeline_run(record.pipeline_run_id, status)


def hooks(options: Options, shape: dict[str, Any]) -> dict[str, Callable[..., None]]:
    """The five flow hooks of one tracked flow, by ``with_options`` argument name."""

    def on_running(flow: Any, run: Any, state: Any) -> None:
        safe_call("record a Prefect flow run starting", _running, options, shape, flow, run)

    def on_end(flow: Any, run: Any, state: Any) -> None:
        safe_call("record the end of a Prefect flow run", _ended, run, state)

    on_running.__name__ = "modeldb_flow_running"
    on_end.__name__ = "modeldb_flow_ended"
    return {"on_running": on_running, "on_completion": on_end, "on_failure": on_end,
            "on_cancellation": on_end, "on_crashed": on_end}
