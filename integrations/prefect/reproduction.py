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
