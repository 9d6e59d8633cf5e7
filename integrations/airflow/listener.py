"""The listener: Airflow task-instance and DAG-run events become ModelDB runs.

- DAG -> pipeline (its task graph as structure), DAG run -> pipeline run.
- Task instance try -> run: external id ``<dag>/<run>/<task>[i]`` plus the
  try number (one run per try), params, inputs, the return value and
  outlets as outputs; a try that fails and will be retried ends ``failed``
  with the tag ``airflow.will_retry=true`` (not a final failure).
- The run is made current (``run.activate()``) before the task body runs, so
  ``modeldb_core.log_metric`` inside the task lands on it.

Task hooks run in the worker process, in the thread that runs the task.
Every hook catches and logs its own errors. Nothing they do waits on the store:
what they record goes through the tracking runtime's journal (its writer
writes it), except the one read that finds the output a mapped task reads,
bounded by ``[modeldb] timeout``.
"""
from __future__ import annotations

import threading
import time
from typing import Any

import modeldb_core
from modeldb_core import calls
from modeldb_core.client import get_client
from modeldb_core.events import name_uuid
from modeldb_core.extras import require
from modeldb_core.model import RunStatus
from modeldb_core.safety import safe_call

from . import dag as dag_rules
from . import reproduction
from . import settings as settings_mod
from modeldb_core.task import callable_chain

from .task_instance import ORCHESTRATOR, TaskRecord

hookimpl = require("airflow.listeners", "airflow", "the Airflow integration").hookimpl
_RETRY = "up_for_retry"
_RETURNS_KEPT = 10_000  # task instances whose return value a long-lived process remembers


class _State:
    """Per-process memory: settings, pipelines and pipeline runs seen, runs in flight."""

    def __init__(self) -> None:
        self.settings: settings_mod.TrackingSettings | None = None
        self.pipelines: dict[tuple, Any] = {}
        self.pipeline_runs: dict[tuple, Any] = {}
        self.shapes: dict[int, tuple] = {}
        self.open: dict[tuple, tuple[TaskRecord, Any]] = {}
        # The whole return value of the last try of each task instance this process ran, by
        # external id: a downstream try in the same process (dag.test(), a worker running
        # both) finds it here, before the writer has put it in the store.
        self.returned: dict[str, Any] = {}
        self.lock = threading.Lock()

    def config(self) -> settings_mod.TrackingSettings:
        if self.settings is None:
            self.settings = settings_mod.load()
            settings_mod.bound_store_calls(self.settings)
        return self.settings


_state = _State()


def reset() -> None:
    """Forget cached settings, pipelines and runs (after the configuration changed)."""
    global _state
    _state = _State()


def _shape(dag: Any) -> tuple[dict[str, Any], str]:
    """The DAG's structure and its key, computed once per DAG object."""
    found = _state.shapes.get(id(dag))
    if found is None or found[0] is not dag:
        shape = dag_rules.structure(dag)
        found = (dag, shape, dag_rules.structure_key(shape))
        _state.shapes[id(dag)] = found
    return found[1], found[2]


def _pipeline_run(client: Any, dag: Any, run_id: str, started_at: float | None = None) -> Any:
    """The key of a DAG run's pipeline run (recorded once per process)."""
    shape, shape_key = _shape(dag)
    pkey = (client.settings.uri, client.settings.project, dag.dag_id, shape_key)
    pipeline = _state.pipelines.get(pkey)
    if pipeline is None:
        pipeline = client.pipeline(client.settings.project, dag.dag_id, ORCHESTRATOR, shape)
        _state.pipelines[pkey] = pipeline
    rkey = (client.settings.uri, pipeline.structure_hash, run_id)
    prun = _state.pipeline_runs.get(rkey)
    if prun is None:
        prun = client.pipeline_run(pipeline, run_id, started_at=started_at)
        _state.pipeline_runs[rkey] = prun
    return prun


def _run_id(pipeline_run: str, external_id: str, try_number: int | None) -> str:
    """The id of one try of one task instance, the same in every process that speaks of it
    (the worker that ran it, the scheduler that saw it skipped)."""
    return name_uuid(pipeline_run, f"{external_id}\x1f{try_number}")


def _timestamp(value: Any) -> float | None:
    try:
        return value.timestamp() if value is not None else None
    except Exception:  # noqa: BLE001
        return None


# -- task instances -----------------------------------------------------------
def _start(record: TaskRecord, params: dict[str, Any], inputs: list, phase: str | None,
           tags: dict[str, Any], started_at: float, dag_run_start: float | None) -> Any:
    client = get_client()
    prun = _pipeline_run(client, record.dag, record.run_id, dag_run_start)
    run = modeldb_core.start_run(
        record.task_id, project=record.project, phase=phase, params=params, tags=tags, parent=None,
        pipeline_run_id=prun, orchestrator=ORCHESTRATOR, external_id=record.external_id,
        try_number=record.try_number, code=record.callable or getattr(record.dag, "fileloc", None),
        started_at=started_at, client=client, run_id=_run_id(prun, record.external_id, record.try_number))
    for name, version in inputs:
        safe_call("record an input", run.log_input, version, name=name)
    for name, upstream, map_index in record.upstream_tries():
        version = safe_call("find an upstream task's output", _upstream_output, client.open_store(), record,
                            upstream, map_index)
        if version is not None:
            safe_call("record an input", run.log_input, version, name=name)
    return run


def _upstream_output(store: Any, record: TaskRecord, upstream: str, map_index: int | None) -> Any:
    """The whole return value version of the last try of ``upstream`` (of its mapped try
    ``map_index``) in the same DAG run: from this process's memory, else from the store."""
    from .task_instance import external_id

    ext = external_id(record.dag_id, record.run_id, upstream, map_index)
    if ext in _state.returned:
        return _state.returned[ext]
    tries = store.runs_by_external_id(ext, orchestrator=ORCHESTRATOR)
    if not tries:
        return None
    last = max(tries, key=lambda run: (run.try_number or 0, run.started_at or 0.0))
    for io in store.get_run_detail(last.id).outputs:
        if io.name == calls.RETURN:
            return io.artifact
    return None


def _task_started(ti: Any) -> None:
    settings = _state.config()
    dag = ti.task.dag
    if dag is None or not dag_rules.tracked(dag, settings):
        return
    started_at = time.time()
    client = get_client()
    if client.disabled:
        return
    record = TaskRecord(ti)
    params, inputs = record.params_and_inputs()
    phase = record.phase(record.dag_params())
    with client.together():  # the start, its inputs and the recipe: one journal record
        run = safe_call("start the run of an Airflow task", _start,
                        record, params, inputs, phase, record.tags(), started_at, record.dag_run_start())
        if run is None:
            return
        safe_call("record how to run the task again", reproduction.record_entry, run, record)
    # A @tracked_task under @task logs into this run instead of starting its own.
    run.provide_for(callable_chain(record.callable) if record.callable is not None else ())
    record.capture_result()
    run.activate()
    with _state.lock:
        _state.open[record.key] = (record, run)


def _finish(ti: Any, status: str, error: BaseException | str | None = None) -> None:
    key = (ti.dag_id, ti.run_id, ti.task_id, getattr(ti, "map_index", None), getattr(ti, "try_number", None))
    with _state.lock:
        found = _state.open.pop(key, None)
    if found is None and status == RunStatus.FAILED.value and hasattr(ti, "get_template_context"):
        # Failed before its code ran (a template that does not render, an invalid inlet or
        # outlet): Airflow calls no "running" hook then, so the run starts here.
        _task_started(ti)
        with _state.lock:
            found = _state.open.pop(key, None)
    if found is None:
        return
    record, run = found
    run.deactivate()
    state = str(getattr(getattr(ti, "state", None), "value", getattr(ti, "state", "")) or "")
    tags = {"airflow.state": state or status}
    if status == RunStatus.FAILED.value:
        tags["airflow.will_retry"] = "true" if state == _RETRY else "false"
    outputs = record.outputs() if status == RunStatus.SUCCEEDED.value else []
    returned = next((version for name, version in outputs if name == calls.RETURN), None)
    if returned is not None:
        with _state.lock:
            _state.returned.pop(record.external_id, None)
            _state.returned[record.external_id] = returned  # the newest last
            while len(_state.returned) > _RETURNS_KEPT:
                del _state.returned[next(iter(_state.returned))]

    def end() -> None:
        with run.client.together():  # the end's tags, outputs and status: one record
            run.set_tags(tags)
            for name, version in outputs:
                run.log_output(version, name=name)
            if isinstance(error, BaseException):
                run.end(status, error=error)
            else:
                run.end(status, message=str(error) if error else None)

    safe_call("end the run of an Airflow task", end)


def _safely(what: str, fn: Any, *args: Any) -> None:
    # Airflow logs a listener's exception too, but tracking must never even
    # look like a task problem: report it once ourselves and return.
    safe_call(what, fn, *args)


class ModelDBListener:
    """The pluggy hook implementations Airflow calls (registered by the plugin)."""

    @hookimpl
    def on_task_instance_running(self, previous_state: Any, task_instance: Any) -> None:
        if hasattr(task_instance, "get_template_context"):  # a worker-side runtime TI
            _safely("track an Airflow task", _task_started, task_instance)

    @hookimpl
    def on_task_instance_success(self, previous_state: Any, task_instance: Any) -> None:
        _safely("end an Airflow task's run", _finish, task_instance, RunStatus.SUCCEEDED.value)

    @hookimpl
    def on_task_instance_failed(self, previous_state: Any, task_instance: Any,
                                error: None | str | BaseException) -> None:
        _safely("end an Airflow task's run", _finish, task_instance, RunStatus.FAILED.value, error)

    @hookimpl
    def on_task_instance_skipped(self, previous_state: Any, task_instance: Any) -> None:
        _safely("end an Airflow task's run", _finish, task_instance, RunStatus.SKIPPED.value)

    @hookimpl
    def on_dag_run_running(self, dag_run: Any, msg: str) -> None:
        _safely("track an Airflow DAG run", _dag_run_event, dag_run, None)

    @hookimpl
    def on_dag_run_success(self, dag_run: Any, msg: str) -> None:
        _safely("end an Airflow DAG run", _dag_run_event, dag_run, RunStatus.SUCCEEDED.value)

    @hookimpl
    def on_dag_run_failed(self, dag_run: Any, msg: str) -> None:
        _safely("end an Airflow DAG run", _dag_run_event, dag_run, RunStatus.FAILED.value)


def _dag_run_event(dag_run: Any, status: str | None) -> None:
    settings = _state.config()
    dag = getattr(dag_run, "dag", None)
    if dag is None or not dag_rules.tracked(dag, settings):
        return

    def record() -> None:
        client = get_client()
        if client.disabled:
            return
        prun = _pipeline_run(client, dag, dag_run.run_id, _timestamp(getattr(dag_run, "start_date", None)))
        if status is not None:
            safe_call("record the Airflow tasks that did not run", _not_run, client, dag, dag_run, prun)
            client.end_pipeline_run(prun, status)

    safe_call("record an Airflow DAG run", record)


# Task instance states in which no task code ran, so no task hook fired.
_NOT_RUN_STATES = ("skipped", "upstream_failed", "removed")


def _not_run(client: Any, dag: Any, dag_run: Any, prun: str) -> None:
    """Every task instance of the DAG run that ended without running (skipped by a branch, a
    short-circuit or a trigger rule, upstream failed, removed) becomes a run in that state:
    ``skipped``, tagged with Airflow's state. A task that skipped itself already has its run
    (same id): this changes nothing of it."""
    from modeldb_core import phases

    from .task_instance import external_id

    tis = dag_run.get_task_instances(state=list(_NOT_RUN_STATES))
    ended = _timestamp(getattr(dag_run, "end_date", None)) or time.time()
    for ti in tis:
        state = str(getattr(ti.state, "value", ti.state))
        ext = external_id(dag.dag_id, dag_run.run_id, ti.task_id, getattr(ti, "map_index", None))
        task = dag.task_dict.get(ti.task_id)
        fn = getattr(task, "python_callable", None)
        at = _timestamp(getattr(ti, "end_date", None)) or ended
        tags = {"airflow.dag_id": dag.dag_id, "airflow.task_id": ti.task_id, "airflow.run_id": dag_run.run_id,
                "airflow.try_number": ti.try_number, "airflow.state": state}
        if task is not None:
            tags["airflow.operator"] = type(task).__name__
        run = modeldb_core.start_run(
            ti.task_id, phase=phases.phase_for(ti.task_id, function=fn, pipeline=dag_rules.tag_phase(dag)),
            tags=tags,
            parent=None, pipeline_run_id=prun, orchestrator=ORCHESTRATOR, external_id=ext,
            try_number=ti.try_number, started_at=at, client=client,
            run_id=_run_id(prun, ext, ti.try_number))
        run.end(RunStatus.SKIPPED, message=f"Airflow did not run this task: {state}", ended_at=at, presumed=True)


listener = ModelDBListener()
