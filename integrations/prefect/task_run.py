"""Task-run state hooks: each attempt of a Prefect task run becomes one ModelDB run.

``on_running`` starts the run (params from the task run context, defaults
included; artifact-like arguments and the outputs of upstream task runs as
inputs; declared inputs), makes it the current run so ``modeldb_core.log_metric``
inside the task logs into it, and ``on_completion`` / ``on_failure`` end it
(the result's fingerprints as outputs).

Each run is a core deferred run, batched (``start_run(defer=True,
batch=True)``). Why: inside a Prefect process the task's thread shares the GIL
with Prefect's own threads, so a store write made from it costs milliseconds
(measured with ``bench/bench_prefect.py``: the completion hook took 3.5 ms a task run unbatched,
0.17 ms batched). A quick run, succeeded or failed, is written whole (lineage,
error and traceback included) with the runs that ended meanwhile, by the
core's deferred-run thread, or at the latest when the flow ends (``flow_hooks``
flushes). A run that runs long is written while it runs, so it shows as running.

A retry enters Running again for the same task run: the attempt before it is
ended as ``failed`` with the error Prefect is retrying, tagged
``prefect.retried``, and a new run starts with the next try number. Every hook
goes through ``safe_call``; Prefect also logs and ignores a hook that raises,
so a task's state and result never change.
"""
from __future__ import annotations

from typing import Any, Callable

from modeldb_core import calls, phases
from modeldb_core.model import RunStatus
from modeldb_core.client import get_client
from modeldb_core.run import active_run, start_run, status_for
from modeldb_core.safety import safe_call
from modeldb_core.task import callable_chain, project_for

from . import flow_run, values
from .flow_run import Attempt, FlowRunRecord

# task_inputs keys that are ordering or nesting, not data flowing into the task.
_NOT_DATA = frozenset({"wait_for", "__parents__"})


def _tags(task_run: Any) -> dict[str, str]:
    return {
        "prefect.flow_run_id": str(task_run.flow_run_id),
        "prefect.task_run_id": str(task_run.id),
        "prefect.task_run_name": str(task_run.name),
        "prefect.task_key": str(task_run.task_key),
    }


def _parameters(task_run: Any) -> dict[str, Any]:
    """The bound parameters (defaults applied by Prefect) from the task run context."""
    from prefect.context import TaskRunContext

    context = TaskRunContext.get()
    if context is None or context.task_run is None or context.task_run.id != task_run.id:
        return {}
    raw = dict(context.parameters or {})
    return safe_call("resolve the task's parameters", values.resolved, raw, default=raw)


def _phase(record: FlowRunRecord, task: Any) -> str | None:
    """The one phase rule (``modeldb_core.phases``): ``track(phases={task: ...})``, then the
    function's ``@tracked_task(phase=)``, then ``track(phase=)``, then the task name's words."""
    options = record.options
    return phases.phase_for(task.name, task=options.phases.get(task.name), function=task.fn,
                            pipeline=options.phase)


def _declared(run: Any, items: tuple[Any, ...], parameters: dict[str, Any], log: Callable) -> list:
    versions = []
    for item in items:
        if isinstance(item, str) and item in parameters:
            version = safe_call("record a declared artifact", log, parameters[item], name=item)
        else:
            version = safe_call("record a declared artifact", log, item)
        if version is not None:
            versions.append(version)
    return versions


def _handed_over(record: FlowRunRecord, task_run: Any, parameters: dict[str, Any],
                 inputs: calls.Named) -> calls.Named:
    """The inputs upstream task runs handed over (Prefect's ``task_inputs``).

    Prefect finds them by object identity, so a flow that changed the object before passing
    it on, or a new object at the address of a freed result, still names the upstream task.
    An upstream task's outputs are inputs only if the parameter holds that result, or one of
    its items (what ``map`` hands each mapped run); otherwise the parameter's own content is
    the input (it was still handed over)."""
    found: calls.Named = []
    for name, references in (task_run.task_inputs or {}).items():
        if name in _NOT_DATA:
            continue
        upstream = [reference.id for reference in references
                    if getattr(reference, "input_type", None) == "task_run"
                    and reference.id in record.outputs]
        if not upstream:
            continue
        held: calls.Named = []
        if name in parameters:  # else nothing to check against: Prefect's word stands
            held = [(n, v) for n, v in inputs if n == name or n.startswith((f"{name}.", f"{name}["))]
            held = held or calls.versions_of(name, parameters[name], handed_over=True)
        hashes = {version.content_hash for _, version in held}
        linked = [(name, version) for task_run_id in upstream
                  if name not in parameters or hashes & record.contents.get(task_run_id, set())
                  for version in record.outputs[task_run_id]]
        found += linked or [(n, v) for n, v in held if (n, v) not in inputs]
    return found


def _contents(result: Any, outputs: calls.Named) -> set[str]:
    """What a downstream parameter may hold of ``result``: the content of each output, and
    of each item of a list or tuple (``map`` hands one to each mapped run)."""
    contents = {version.content_hash for _, version in outputs}
    if isinstance(result, (list, tuple)) and len(result) <= calls.MAX_ITEMS:
        known = dict(outputs)
        for i, item in enumerate(result):
            name = f"{calls.RETURN}[{i}]"
            items = [(name, known[name])] if name in known else calls.versions_of(name, item, True)
            contents.update(version.content_hash for _, version in items)
    return contents


def _start(task: Any, task_run: Any, state: Any) -> None:
    record = flow_run.get(task_run.flow_run_id)
    if record is None:
        return
    with record.lock:
        previous = record.attempts.get(task_run.id)
        if previous is not None and previous.try_number == task_run.run_count:
            # Not a new attempt: when a BaseException escapes a task, Prefect runs the
            # hooks of the state it is still in (Running) once more before the crash.
            return
        record.attempts.pop(task_run.id, None)
    if previous is not None:
        _end_retried(previous)
    parameters = _parameters(task_run)
    # The one rule of every integration (modeldb_core.calls). What upstream tasks handed
    # over is linked below from their own outputs (Prefect's task_inputs).
    params, inputs = calls.split_arguments(parameters)
    # Nest under the run the task was called from (a task inside a task, a tracked
    # function calling the flow), but never under one that already ended.
    current = active_run()
    parent = current if current is not None and not current.ended else None
    run = start_run(task.name, project=project_for(task.fn, record.project), phase=_phase(record, task),
                    params=params, tags=_tags(task_run), parent=parent,
                    pipeline_run_id=record.pipeline_run_id, orchestrator=flow_run.ORCHESTRATOR,
                    external_id=str(task_run.id), try_number=task_run.run_count, code=task.fn,
                    started_at=state.timestamp.timestamp(), client=get_client(),
                    defer=True, batch=True)
    with record.lock:
        record.attempts[task_run.id] = Attempt(run, task_run, task_run.run_count)
    handed_over = safe_call("link what upstream task runs handed over", _handed_over, record,
                            task_run, parameters, inputs, default=[])
    for name, version in inputs + handed_over:
        safe_call("record an input", run.log_input, version, name=name)
    _declared(run, record.options.inputs.get(task.name, ()), parameters, run.log_input)
    safe_call("record how to run the task again", _record_entry, run, task, parameters, inputs, record)
    # A function that is also @tracked_task logs into this run instead of starting another.
    run.provide_for(callable_chain(task.fn))
    run.activate()


def _record_entry(run: Any, task: Any, parameters: dict[str, Any], inputs: list, record: FlowRunRecord) -> None:
    """The task's importable name and how each parameter is re-created: what
    ``modeldb reproduce`` calls again inside a flow (``reproduction.py``); and how to call
    its whole flow again (``modeldb reproduce --flow``)."""
    from modeldb_core import recipe

    if record.flow_entry is not None and run.id is not None:
        run.record_recipe(recipe.FLOW, record.flow_entry)
    target = recipe.entry_point(task.fn)
    if target is None or run.id is None:
        return
    entry = recipe.entry(target, recipe.arguments(parameters, [name for name, _ in inputs], ()), {})
    run.record_recipe(recipe.ENTRY, {**entry, "kind": "prefect",
                                     "runner": "modeldb_core.integrations.prefect.reproduction:run"})


def _end_retried(attempt: Attempt) -> None:
    """The attempt before a retry: failed, but not the task run's final word."""
    run, failure = attempt.run, attempt.failure
    run.deactivate()
    error = values.state_value(failure) if failure is not None else None
    run.set_tags({"prefect.retried": "true",
                  "prefect.state": getattr(failure, "name", None) or "Retrying"})
    message = getattr(failure, "message", None) or f"attempt {attempt.try_number} failed; Prefect retried it"
    run.end(RunStatus.FAILED, error=error if isinstance(error, BaseException) else None,
            message=message)


def _take(task_run: Any) -> tuple[FlowRunRecord, Attempt] | tuple[None, None]:
    record = flow_run.get(task_run.flow_run_id)
    if record is None:
        return None, None
    with record.lock:
        attempt = record.attempts.pop(task_run.id, None)
    if attempt is None:
        return None, None
    attempt.run.deactivate()
    return record, attempt


def _completed(task: Any, task_run: Any, state: Any) -> None:
    record, attempt = _take(task_run)
    if attempt is None:
        return
    run = attempt.run
    produced, contents = [], set()
    if record.options.capture_results:
        value = values.state_value(state)
        outputs = safe_call("fingerprint the result", calls.outputs_of, value, True, default=[])
        for name, version in outputs:
            run.log_output(version, name=name)
            produced.append(version)
        contents = safe_call("fingerprint the result's items", _contents, value, outputs,
                             default={version.content_hash for version in produced})
    declared = record.options.outputs.get(task.name, ())
    if declared:
        produced += _declared(run, declared, _parameters(task_run), run.log_output)
    record.outputs[task_run.id] = produced
    record.contents[task_run.id] = contents | {version.content_hash for version in produced}
    run.set_tag("prefect.state", state.name)
    run.end(RunStatus.SUCCEEDED)


def _failed(task: Any, task_run: Any, state: Any) -> None:
    record, attempt = _take(task_run)
    if attempt is None:
        return
    error = values.state_value(state)
    attempt.run.set_tag("prefect.state", state.name)
    attempt.run.end(RunStatus.FAILED, error=error if isinstance(error, BaseException) else None,
                    message=state.message)


def end_left_open(record: FlowRunRecord, flow_status: str, flow_state: Any) -> None:
    """End the attempts no task hook ended: cancelled and crashed task runs, or a flow that stopped."""
    with record.lock:
        left = list(record.attempts.values())
        record.attempts.clear()
    for attempt in left:
        state = getattr(attempt.task_run, "state", None)
        if state is not None and state.is_cancelled():
            status, reason = RunStatus.KILLED.value, state
        elif state is not None and state.is_crashed():
            status, reason = crash_status(state), state
        elif flow_status in (RunStatus.KILLED.value, RunStatus.FAILED.value):
            status, reason = RunStatus.KILLED.value, flow_state
        else:
            status, reason = RunStatus.KILLED.value, None
        run = attempt.run
        run.deactivate()
        safe_call("record the task run's state", run.set_tag, "prefect.state",
                  getattr(state, "name", None) or "unknown")
        safe_call("end a task run", run.end, status, message=_reason(reason))


def _reason(state: Any) -> str:
    """Prefect's reason for a state (its message), with the exception behind it if any."""
    if state is None:
        return "the flow run ended before this task run did"
    message = getattr(state, "message", None) or getattr(state, "name", "")
    error = values.state_value(state)
    if isinstance(error, BaseException):
        message += f" ({type(error).__name__}: {error})" if str(error) else f" ({type(error).__name__})"
    return message


def crash_status(state: Any) -> str:
    """``killed`` for a run stopped by an interrupt, exit or signal; ``failed`` for other crashes."""
    from prefect.exceptions import TerminationSignal

    error = values.state_value(state)
    if not isinstance(error, BaseException) or isinstance(error, TerminationSignal):
        return RunStatus.KILLED.value
    return status_for(error)


# -- the hooks Prefect calls: (task, task_run, state) ------------------------
def _together(hook: Callable[..., None], *args: Any) -> None:
    with get_client().together():  # what one hook records: one journal record
        hook(*args)


def on_running(task: Any, task_run: Any, state: Any) -> None:
    safe_call("record a Prefect task run starting", _together, _start, task, task_run, state)


def on_completion(task: Any, task_run: Any, state: Any) -> None:
    safe_call("record a Prefect task run's result", _together, _completed, task, task_run, state)


def on_failure(task: Any, task_run: Any, state: Any) -> None:
    safe_call("record a failed Prefect task run", _together, _failed, task, task_run, state)


on_running.__name__ = "modeldb_task_running"
on_completion.__name__ = "modeldb_task_completed"
on_failure.__name__ = "modeldb_task_failed"


def _note_failure(task_run: Any, state: Any) -> None:
    record = flow_run.get(task_run.flow_run_id)
    attempt = record.attempts.get(task_run.id) if record is not None else None
    if attempt is not None:
        attempt.failure = state


def observing_retries(condition: Callable[..., Any] | None) -> Callable[..., Any]:
    """A ``retry_condition_fn`` that notes the failed attempt, then answers as ``condition`` would.

    Prefect asks it exactly when a failed attempt may be retried, with the
    failed state (the exception in it); no state hook sees that state.
    """
    if getattr(condition, "__modeldb_observer__", False):
        return condition  # type: ignore[return-value]

    def retry_condition(task: Any, task_run: Any, state: Any) -> Any:
        safe_call("note a failed attempt", _note_failure, task_run, state)
        # Prefect's own rule without a condition: retry.
        return True if condition is None else condition(task, task_run, state)

    retry_condition.__modeldb_observer__ = True  # type: ignore[attr-defined]
    return retry_condition
