"""Flow runs being tracked in this process: each is one pipeline run.

A ``FlowRunRecord`` is created by the flow's ``on_running`` hook and removed by
its terminal hook. It holds the pipeline run, the tracking options of the
flow, the open attempt of each task run, and the artifact versions each task
run produced (what task-to-task lineage links to). The registry is keyed by the
Prefect flow run id, which every task hook receives as ``task_run.flow_run_id``.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping
from uuid import UUID

from modeldb_core import validation
from modeldb_core.client import get_client
from modeldb_core.client import flush
from modeldb_core.runtime import on_exit
from modeldb_core.errors import ValidationError
from modeldb_core.model import ArtifactVersion, RunStatus
from modeldb_core.run import ActiveRun
from modeldb_core.safety import safe_call

ORCHESTRATOR = "prefect"


@dataclass(frozen=True)
class Options:
    """How one tracked flow maps onto ModelDB (see ``track``)."""

    project: str | None = None
    phase: str | None = None
    phases: Mapping[str, str] = field(default_factory=dict)
    inputs: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    outputs: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    capture_results: bool = True

    @classmethod
    def checked(cls, project: str | None, phase: str | None, phases: Mapping[str, str] | None,
                inputs: Mapping[str, Iterable[Any]] | None, outputs: Mapping[str, Iterable[Any]] | None,
                capture_results: bool) -> "Options":
        if project is not None:
            validation.name("project", project)
        for label, mapping in (("phases", phases), ("inputs", inputs), ("outputs", outputs)):
            if mapping is not None and not isinstance(mapping, Mapping):
                raise ValidationError(
                    label, mapping, "must be a mapping of task name to " + (
                        "phase" if label == "phases" else "a list of parameter names, paths or URIs"))
        return cls(
            project=project,
            phase=validation.phase(phase),
            phases={str(k): _phase(f"phases[{k!r}]", v) for k, v in (phases or {}).items()},
            inputs={str(k): _items(f"inputs[{k!r}]", v) for k, v in (inputs or {}).items()},
            outputs={str(k): _items(f"outputs[{k!r}]", v) for k, v in (outputs or {}).items()},
            capture_results=bool(capture_results),
        )


def _phase(field_name: str, value: Any) -> str:
    try:
        return validation.phase(value)
    except ValidationError as exc:
        raise ValidationError(field_name, value, exc.problem) from None


def _items(field_name: str, value: Any) -> tuple[Any, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ValidationError(field_name, value, "must be a list of parameter names, paths or URIs")
    return tuple(value)


@dataclass
class Attempt:
    """One attempt of one task run: one ModelDB run."""

    run: ActiveRun
    task_run: Any
    try_number: int
    failure: Any = None  # the failed state Prefect is about to retry, if any


@dataclass
class FlowRunRecord:
    flow_run_id: UUID
    options: Options
    project: str
    pipeline_run_id: str | None
    flow_entry: dict[str, Any] | None = None  # how to call the flow again (reproduction.flow_entry)
    attempts: dict[UUID, Attempt] = field(default_factory=dict)
    outputs: dict[UUID, list[ArtifactVersion]] = field(default_factory=dict)
    # Content hashes a downstream parameter may hold of each task run's result (task_run._contents).
    contents: dict[UUID, set[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


_records: dict[UUID, FlowRunRecord] = {}
_records_lock = threading.Lock()


def get(flow_run_id: Any) -> FlowRunRecord | None:
    return _records.get(flow_run_id)


def is_tracked(flow_run_id: Any) -> bool:
    return flow_run_id in _records


def begin(flow: Any, flow_run: Any, options: Options, structure: dict[str, Any]) -> FlowRunRecord | None:
    """The record of ``flow_run`` (created, with its pipeline run, on the first call)."""
    found = _records.get(flow_run.id)
    if found is not None:  # a flow retry enters Running again: same pipeline run
        return found
    client = get_client()
    if client.disabled:
        return None
    project = options.project or client.settings.project
    pipeline = client.pipeline(project, flow.name, ORCHESTRATOR, structure)
    started = flow_run.start_time.timestamp() if getattr(flow_run, "start_time", None) else time.time()
    prun = client.pipeline_run(pipeline, str(flow_run.id), started_at=started)
    from .reproduction import flow_entry

    record = FlowRunRecord(flow_run.id, options, project, prun,
                           safe_call("record how to run the flow again", flow_entry, flow, flow_run, options))
    with _records_lock:
        return _records.setdefault(flow_run.id, record)


def finish(flow_run_id: Any) -> FlowRunRecord | None:
    with _records_lock:
        return _records.pop(flow_run_id, None)


def _close_all_at_exit() -> None:
    """Write what is queued; a flow whose end Prefect never reported (no terminal hook fired)
    is not left running."""
    with _records_lock:
        left = list(_records.values())
        _records.clear()
    for record in left:
        message = "the process exited before Prefect reported the end of the flow run"
        for attempt in list(record.attempts.values()):
            safe_call("end a task run left open", attempt.run.end, RunStatus.KILLED, message=message)
        if record.pipeline_run_id is not None:
            safe_call("write the task runs left", flush)
            safe_call("end a flow run left open", get_client().end_pipeline_run,
                      record.pipeline_run_id, RunStatus.KILLED.value)


on_exit(_close_all_at_exit)
