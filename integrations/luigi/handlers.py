"""Luigi events → ModelDB runs.

Each handler runs in the process Luigi fires the event in: ``START``,
``PROCESSING_TIME``, ``SUCCESS``, ``FAILURE`` and ``PROGRESS`` in the process
running the task (a forked child when ``workers > 1``); the dependency events,
``BROKEN_TASK``, ``TIMEOUT`` and ``PROCESS_FAILURE`` in the scheduling
process. The run of a task is kept, per process, in ``_open`` by task id
between its ``START`` and its end (deferred: one write when a quick task
ends, see modeldb_core/deferred.py). Every handler body goes through
``safe_call``: a store error is logged and the task succeeds or fails on its
own merits.
"""
from __future__ import annotations

import inspect
import multiprocessing
import numbers
import os
import time
from typing import Any, Callable

from modeldb_core import phases
from modeldb_core.client import TrackingClient, get_client
from modeldb_core.events import name_uuid
from modeldb_core.model import Phase, RunStatus
from modeldb_core.run import ActiveRun, start_run
from modeldb_core.runtime import on_exit
from modeldb_core.safety import safe_call

from . import builds, dynamic, targets

PROCESSING_METRIC = "luigi.processing_seconds"


class TaskTimeout(Exception):
    """Luigi terminated the task's process: it ran past its ``worker_timeout``."""


class WorkerDied(Exception):
    """The process running the task ended without reporting (killed, crashed, os._exit)."""


_DEATHS = {"Timeout": TaskTimeout, "ProcessFailure": WorkerDied}


class Options:
    """What ``track()`` was told."""

    project: str | None = None
    default_phase: str | None = None


options = Options()
_open: dict[str, ActiveRun] = {}
_PHASE_NAMES = frozenset(p.value for p in Phase)
_code_of: dict[type, Any] = {}
_param_names: dict[type, tuple[str, ...]] = {}
_builds_of: dict[str, "builds.Build | None"] = {}


# -- what a task says about itself ------------------------------------------------
def wanted(task: Any) -> bool:
    return getattr(task, "modeldb_track", True) is not False


def _recorded_names(cls: type) -> tuple[str, ...]:
    """The parameters of a task class that are recorded: significant and not private."""
    names = _param_names.get(cls)
    if names is None:
        from luigi.parameter import ParameterVisibility

        names = tuple(name for name, param in cls.get_params()
                      if param.significant and getattr(param, "visibility", None) != ParameterVisibility.PRIVATE)
        _param_names[cls] = names
    return names


def params_of(task: Any) -> dict[str, Any]:
    """The significant, non-private parameters, typed as Luigi parsed them."""
    from luigi.freezing import FrozenOrderedDict, recursively_unfreeze

    values = getattr(task, "param_kwargs", {}) or {}
    found = {}
    for name in _recorded_names(type(task)):
        if name in values:
            value = values[name]
            # Dict and list parameters arrive frozen; params are plain JSON.
            found[name] = recursively_unfreeze(value) if isinstance(value, (FrozenOrderedDict, tuple)) else value
    return found


def phase_of(task: Any) -> str | None:
    """The one phase rule (``modeldb_core.phases``): ``modeldb_phase`` (parameter or
    attribute) or a ``phase`` parameter naming a phase, then ``track(default_phase=)``,
    then the words of the task family."""
    values = getattr(task, "param_kwargs", {}) or {}
    declared = values.get("modeldb_phase", getattr(task, "modeldb_phase", None))
    candidate = values.get("phase")
    if declared is None and isinstance(candidate, str) and candidate in _PHASE_NAMES:
        declared = candidate  # a "phase" parameter that means something else is not one
    return phases.phase_for(task.task_family, task=declared, pipeline=options.default_phase)


def code_of(task: Any) -> Any:
    """The task class's source file (its module), for the run's code version."""
    cls = type(task)
    found = _code_of.get(cls)
    if found is None:
        try:
            found = inspect.getsourcefile(cls)
        except (TypeError, OSError):
            found = None
        if not found:
            found = getattr(cls, "run", None) or cls
        _code_of[cls] = found
    return found


# -- runs -------------------------------------------------------------------------
def _begin(client: TrackingClient, task: Any, started_at: float | None = None) -> ActiveRun:
    """The run of one try of ``task``, with its inputs as they are now.

    Its id is made from the build, the task and the try: an execution Luigi
    suspends (dynamic dependencies) and runs again from the start, maybe in
    another worker process, continues the same run.
    """
    build = safe_call("find the Luigi build", builds.current, client, task, options.project)
    _builds_of[task.task_id] = build
    project = builds._project_of(task, build.project if build else options.project, client)
    params = safe_call("read the task's parameters", params_of, task, default={}) or {}
    tries = safe_call("count the task's tries", builds.try_number, task)
    run_id = None
    if build is not None:
        run_id = name_uuid(build.pipeline_run_id, f"{task.task_id}\x1f{tries}")
    with client.together():  # the start, its inputs and the recipe: one journal record
        run = start_run(task.task_family, project=project, phase=phase_of(task), params=params, parent=None,
                        pipeline_run_id=build.pipeline_run_id if build else None,
                        orchestrator=builds.ORCHESTRATOR, external_id=task.task_id, code=code_of(task),
                        try_number=tries, started_at=started_at, client=client, run_id=run_id)
        _record(run.log_input, "inputs", targets.inputs, task)
        safe_call("record how to run the task again", _record_entry, run, task)
    return run


def _record_entry(run: ActiveRun, task: Any) -> None:
    """The task's class and parameters (as Luigi writes them on its command line): what
    ``modeldb reproduce`` gives ``luigi.build`` to run it again (``reproduction.py``)."""
    from modeldb_core import recipe

    target = recipe.entry_point(type(task))
    if target is not None and run.id is not None:
        run.record_recipe(recipe.ENTRY, {"kind": "luigi", "target": target, "cwd": os.getcwd(),
                                         "params": task.to_str_params(only_public=True),
                                         "runner": "modeldb_core.integrations.luigi.reproduction:run"})


def _record(log: Callable[..., Any], what: str, targets_of: Callable[[Any], list], task: Any) -> None:
    """Fingerprint the targets ``targets_of(task)`` names, as they are now, and ``log`` each one."""
    for name, target in safe_call(f"read the task's {what}", targets_of, task, default=[]):
        version = safe_call(f"fingerprint the task's {what}", targets.version_of, target)
        if version is not None:
            safe_call(f"record the task's {what}", log, version, name=name)


_task_process: tuple[int, bool] = (0, False)


def _in_task_process() -> bool:
    """Is this a process Luigi forked to run one task (cached per process)?"""
    global _task_process
    pid = os.getpid()
    if _task_process[0] != pid:
        from luigi.worker import TaskProcess

        _task_process = (pid, isinstance(multiprocessing.current_process(), TaskProcess))
    return _task_process[1]


def _finish(client: TrackingClient, task: Any, run: ActiveRun, status: str,
            error: BaseException | None = None, message: str | None = None, outputs: bool = False) -> None:
    run.deactivate()
    with client.together():  # the outputs, what run() yielded and the end: one journal record
        if outputs:
            _record(run.log_output, "outputs", targets.outputs, task)
        # What run() yielded: all complete now, or the task failed with them.
        _record(run.log_input, "dynamic dependencies", dynamic.requirement_targets, task)
        dynamic.forget(task)
        run.end(status, error=error, message=message)
    build = _builds_of.pop(task.task_id, None) or builds.current(client, task, options.project)
    if status != RunStatus.SUCCEEDED.value:
        builds.finish(client, build, RunStatus.FAILED.value, task.task_id)
    elif build is not None:
        build.failing.discard(task.task_id)  # it failed before: Luigi retried it
        if task.task_id in build.root_ids:
            builds.finish(client, build, RunStatus.SUCCEEDED.value)
    _release_if_forked(client)


def _release_if_forked(client: TrackingClient) -> None:
    """A forked worker exits with os._exit when its task is over (no exit hooks): write what it
    recorded (what the store does not take in time stays in its journal, replayed by the next
    ModelDB process) and release its connections now."""
    if _in_task_process():
        client.flush()
        client.release()


def _guard(what: str, fn: Callable[..., None]) -> Callable[..., None]:
    def handler(task: Any, *args: Any, **kwargs: Any) -> None:
        client = get_client()
        if client.disabled or not wanted(task):
            return
        safe_call(what, fn, client, task, *args, **kwargs)

    handler.__name__ = handler.__qualname__ = f"modeldb_{fn.__name__.lstrip('_')}"
    handler.__doc__ = fn.__doc__
    return handler


# -- the handlers -----------------------------------------------------------------
def _start(client: TrackingClient, task: Any) -> None:
    """START: open the run, record the inputs as read now, make it the current run."""
    previous = _open.pop(task.task_id, None)
    if previous is not None:  # a retry in the same process: the last try was not ended
        previous.deactivate()
        previous.end(RunStatus.KILLED, message="Luigi started the task again")
    run = _begin(client, task)
    _open[task.task_id] = run
    run.activate()
    safe_call("watch for dynamic dependencies", dynamic.watch, task, _on_suspended)


def _suspended(client: TrackingClient, task: Any) -> None:
    """run() yielded requirements that are not complete: Luigi runs them, then the task again
    from the start. That later execution continues this run (same id), so this one is left
    open, with a note saying why."""
    run = _open.pop(task.task_id, None)
    _builds_of.pop(task.task_id, None)
    dynamic.forget(task)
    if run is None:
        return
    run.deactivate()
    run.add_note("Luigi suspended the task: run() yielded dependencies that were not complete; "
                 "it runs again from the start once they are, in this run.")
    run.detach()
    _release_if_forked(client)


_on_suspended = _guard("record a suspended Luigi task", _suspended)


def _processing_time(client: TrackingClient, task: Any, seconds: Any) -> None:
    """PROCESSING_TIME: how long run() took, as Luigi measured it."""
    run = _open.get(task.task_id)
    if run is not None and isinstance(seconds, numbers.Real):
        run.log_metric(PROCESSING_METRIC, float(seconds))


def _success(client: TrackingClient, task: Any) -> None:
    """SUCCESS: record the outputs as written and end the run."""
    run = _open.pop(task.task_id, None) or _begin(client, task)
    _finish(client, task, run, RunStatus.SUCCEEDED.value, outputs=True)


def _failure(client: TrackingClient, task: Any, exception: BaseException | None = None) -> None:
    """FAILURE: end the run with the exception (also when it failed before START)."""
    run = _open.pop(task.task_id, None) or _begin(client, task)
    error = exception if isinstance(exception, BaseException) else None
    _finish(client, task, run, RunStatus.FAILED.value, error=error,
            message=None if error else str(exception))


def _broken(client: TrackingClient, task: Any, exception: BaseException | None = None) -> None:
    """BROKEN_TASK: complete() or requires() raised while scheduling: a failed run."""
    run = _begin(client, task)
    run.set_tag("luigi.event", "broken_task")
    error = exception if isinstance(exception, BaseException) else None
    _finish(client, task, run, RunStatus.FAILED.value, error=error,
            message=None if error else str(exception))


def _died(kind: str) -> Callable[..., None]:
    def handler(client: TrackingClient, task: Any, message: Any = None) -> None:
        """TIMEOUT / PROCESS_FAILURE: the worker process of the task is gone."""
        error = _DEATHS[kind](str(message or f"Luigi reported a {kind.lower()}"))
        run = _open.pop(task.task_id, None)
        if run is not None:
            run.deactivate()
            run.end(RunStatus.FAILED, error=error)
        else:
            _mark_dead(client, task, kind, error, time.time())
        builds.finish(client, builds.current(client, task, options.project), RunStatus.FAILED.value, task.task_id)

    handler.__name__ = f"_{kind.lower()}"
    return handler


def _mark_dead(client: TrackingClient, task: Any, kind: str, error: Exception, now: float) -> None:
    """The run was opened in the dead child: find it by reaping, then say why it ended."""
    from modeldb_core.events import ENDED

    error_type = f"{type(error).__module__}.{type(error).__qualname__}"
    for _ in range(200):  # a terminated child may take a moment to be gone (and its journal free)
        # The child's journal first: its run, with what it logged, ends killed ...
        replayed = client.runtime.replay_now()
        mine = [run for run in client.store.runs_by_external_id(task.task_id)
                if run.pid != os.getpid() and run.status in (RunStatus.RUNNING.value, RunStatus.KILLED.value)
                and not run.end_seq]
        if mine:
            for run in mine:  # ... and then failed, with Luigi's reason
                client.runtime.emit(ENDED, run.uuid, {
                    "status": RunStatus.FAILED.value, "ended_at": now, "error_type": error_type,
                    "error_message": str(error)})
            client.flush()
            return
        if not replayed:
            client.reap()
        time.sleep(0.05)
    # Nothing was running: the child died before START. Still, the task failed.
    run = _begin(client, task, started_at=now)
    run.set_tag("luigi.event", kind.lower())
    run.end(RunStatus.FAILED, error=error)


def _progress(client: TrackingClient, task: Any, *args: Any, **kwargs: Any) -> None:
    """PROGRESS: numbers a task reports (a dict argument or keywords) become metrics."""
    run = _open.get(task.task_id)
    if run is None:
        return
    values: dict[str, Any] = {}
    for arg in args:
        if isinstance(arg, dict):
            values.update(arg)
    values.update(kwargs)
    for key, value in values.items():
        if isinstance(key, str) and isinstance(value, numbers.Real) and not isinstance(value, bool):
            safe_call("record a progress metric", run.log_metric, key, value)


def _dependency(client: TrackingClient, task: Any, *args: Any) -> None:
    """DEPENDENCY_DISCOVERED: open the build here, before workers fork, so they share it."""
    builds.current(client, task, options.project)


def _present(client: TrackingClient, task: Any) -> None:
    """DEPENDENCY_PRESENT: a complete root means the build has nothing to do."""
    build = builds.current(client, task, options.project)
    if build is not None and task.task_id in build.root_ids:
        builds.finish(client, build, RunStatus.SUCCEEDED.value)


def _missing(client: TrackingClient, task: Any) -> None:
    """DEPENDENCY_MISSING: an external input is absent (or complete() raised)."""
    builds.finish(client, builds.current(client, task, options.project), RunStatus.FAILED.value, task.task_id)


def _at_exit() -> None:
    """A task still open when its process exits (interrupted) is recorded as killed."""
    for run in list(_open.values()):
        run.deactivate()
        # Presumed: the scheduling process's verdict (a timeout, a dead worker) overrides it.
        safe_call("end a Luigi task left open", run.end, RunStatus.KILLED,
                  message="the process exited before the task ended", presumed=True)
    _open.clear()


on_exit(_at_exit)


def handlers() -> dict[str, Callable[..., None]]:
    """Event name → handler, built once."""
    from luigi.event import Event

    return {
        Event.START: _guard("record a Luigi task start", _start),
        Event.PROCESSING_TIME: _guard("record a Luigi processing time", _processing_time),
        Event.SUCCESS: _guard("record a Luigi task success", _success),
        Event.FAILURE: _guard("record a Luigi task failure", _failure),
        Event.BROKEN_TASK: _guard("record a broken Luigi task", _broken),
        Event.TIMEOUT: _guard("record a Luigi task timeout", _died("Timeout")),
        Event.PROCESS_FAILURE: _guard("record a dead Luigi worker", _died("ProcessFailure")),
        Event.PROGRESS: _guard("record Luigi progress", _progress),
        Event.DEPENDENCY_DISCOVERED: _guard("record a Luigi dependency", _dependency),
        Event.DEPENDENCY_PRESENT: _guard("record a complete Luigi task", _present),
        Event.DEPENDENCY_MISSING: _guard("record a missing Luigi dependency", _missing),
    }
