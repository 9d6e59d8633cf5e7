"""Reproducing a Prefect task run with Prefect itself (the runner its recipe names).

``run(spec)`` is called by ``modeldb_core/reproduction/runner.py`` in a fresh process
with the task's code checked out at the run's commit: the task (a module-level
``@task``) is called with the recorded parameters inside a flow of its own, tracked
like any flow, so Prefect's engine runs it (states, retries, result handling) and
ModelDB records the new task run, then links it to the original.
"""
from __future__ import annotations

import time
from typing import Any


def run(spec: dict[str, Any]) -> dict[str, Any]:
    from prefect import flow

    from modeldb_core.client import get_client
    from modeldb_core.events import REPRODUCTION
    from modeldb_core.reproduction.runner import arguments_of, load, seed

    from . import track
    from .flow_run import ORCHESTRATOR

    task = load(spec["target"], spec.get("source_file"))
    arguments = arguments_of(spec)
    seed(spec)

    @flow(name=f"reproduce-{task.name}")
    def reproduction() -> Any:
        return task(**arguments)

    started = time.time()
    track(reproduction, project=spec.get("project"))()
    client = get_client()
    client.flush()
    runs = [r for r in client.store.list_runs(project=spec.get("project"), limit=100)
            if r.name == task.name and r.orchestrator == ORCHESTRATOR and r.started_at >= started - 1]
    if not runs:
        raise RuntimeError(f"the flow did not run the task {task.name}")
    new = max(runs, key=lambda r: r.started_at)
    client.runtime.emit(REPRODUCTION, new.id, {"original": spec["original"], "at": time.time()})
    client.flush()
    return {"run_id": new.id, "reused": []}


# -- a whole flow run ----------------------------------------------------------------------------
def flow_entry(flow: Any, flow_run: Any, options: Any) -> dict[str, Any] | None:
    """How to call the flow of ``flow_run`` again (kept on each of its task runs' recipes):
    its importable name and its parameters as Prefect recorded them (a secret's value is
    not kept: it is given again with ``--set``)."""
    import inspect
    import os

    from modeldb_core import recipe
    from modeldb_core.redaction import redact_value

    target = recipe.entry_point(flow.fn)
    if target is None:
        return None
    parameters = dict(getattr(flow_run, "parameters", None) or {})
    how = recipe.arguments(parameters, (), ())
    replayable = {name: redact_value(name, value) for name, value in parameters.items()
                  if how[name]["from"] == "param" and how[name].get("exact", True)}
    arguments = {name: h for name, h in how.items() if name not in replayable}
    arguments.update({name: {"from": "secret"} for name, value in replayable.items() if value != parameters[name]})
    try:
        source_file = inspect.getsourcefile(flow.fn)
    except TypeError:
        source_file = None
    return {"kind": "prefect_flow", "target": target, "name": flow.name, "flow_run_id": str(flow_run.id),
            "parameters": {k: v for k, v in replayable.items() if k not in arguments}, "arguments": arguments,
            "source_file": source_file, "cwd": os.getcwd(),
            "options": {"phase": options.phase, "phases": dict(options.phases),
                        "capture_results": options.capture_results},
            "runner": "modeldb_core.integrations.prefect.reproduction:run_flow"}


def run_flow(spec: dict[str, Any]) -> dict[str, Any]:
    """Call the flow again with its recorded parameters, tracked; the new flow run's pipeline run."""
    from modeldb_core.client import get_client
    from modeldb_core.reproduction.runner import load, seed

    from . import track
    from .flow_run import ORCHESTRATOR

    flow = load(spec["target"], spec.get("source_file"))
    parameters = dict(spec.get("parameters") or {})
    parameters.update({name: how["value"] for name, how in (spec.get("arguments") or {}).items()
                       if "value" in how})
    seed(spec)
    if getattr(flow, "__modeldb_options__", None) is None:  # not a @tracked_flow: tracked as it was
        flow = track(flow, project=spec.get("project"), **(spec.get("options") or {}))
    state = flow(**parameters, return_state=True)
    # A failed flow run is compared too: its task runs say how far it came.
    failure = None if state.is_completed() else f"the flow run ended {state.name}: {state.message or ''}".strip()
    client = get_client()
    client.flush()
    made = [prun for prun, pipeline in client.store.pipeline_runs(external_id=str(state.state_details.flow_run_id))
            if pipeline.orchestrator == ORCHESTRATOR]
    if not made:
        raise RuntimeError(f"the flow {flow.name} ran, but its flow run was not recorded" +
                           (f" ({failure})" if failure else ""))
    return {"pipeline_run_id": made[-1].id, "reused": [], "error_in_flow": failure}
