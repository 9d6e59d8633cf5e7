"""Reproducing a Luigi task's run with Luigi itself (the runner its recipe names).

``run(spec)`` is called by ``modeldb_core/reproduction/runner.py`` in a fresh process with
the task's code checked out at the run's commit. The task is re-created from its class
and the parameters Luigi recorded, and built with ``luigi.build`` as Luigi would: every
upstream task whose outputs are still there is complete and is reused, the ones whose
outputs are gone run again, in dependency order. The task itself always runs: its
outputs are moved aside into the workspace for the build and put back afterwards (the
reproduced ones are kept in the workspace), so the user's files end as they were.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any


def _local_paths(task: Any) -> list[str]:
    from luigi import LocalTarget
    from luigi.task import flatten

    return [t.path for t in flatten(task.output()) if isinstance(t, LocalTarget)]


def _upstream(task: Any) -> list[Any]:
    """Every task ``task`` depends on, directly or not (each once)."""
    from luigi.task import flatten

    seen: dict[str, Any] = {}
    stack = list(flatten(task.requires()))
    while stack:
        item = stack.pop()
        if item.task_id not in seen:
            seen[item.task_id] = item
            stack.extend(flatten(item.requires()))
    return list(seen.values())


def run(spec: dict[str, Any]) -> dict[str, Any]:
    from modeldb_core.client import get_client
    from modeldb_core.events import REPRODUCTION
    from modeldb_core.reproduction.runner import load

    from . import build

    if spec.get("cwd") and os.path.isdir(spec["cwd"]):
        os.chdir(spec["cwd"])  # relative output paths resolve as they did
    task = load(spec["target"], spec.get("source_file")).from_str_params(spec["params"])
    reused = sorted(t.task_id for t in _upstream(task) if t.complete())
    aside = Path(spec["workspace"]) / "original-outputs"
    kept = Path(spec["workspace"]) / "outputs"
    moved = []
    for path in _local_paths(task):
        if os.path.exists(path):
            target = aside / str(len(moved)) / os.path.basename(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(path, target)
            moved.append((path, target))
    started = time.time()
    try:
        build([task], project=spec.get("project"), local_scheduler=True, workers=1)
    finally:
        for number, path in enumerate(_local_paths(task)):
            if os.path.exists(path) and any(p == path for p, _ in moved):
                target = kept / str(number) / os.path.basename(path)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(path, target)
        for path, target in moved:
            shutil.move(target, path)
    client = get_client()
    runs = [r for r in client.store.runs_by_external_id(task.task_id, orchestrator="luigi")
            if r.started_at >= started - 1]
    if not runs:
        raise RuntimeError(f"luigi.build did not run {task.task_id}")
    new = max(runs, key=lambda r: r.started_at)
    client.runtime.emit(REPRODUCTION, new.id, {"original": spec["original"], "at": time.time()})
    client.flush()
    return {"run_id": new.id, "reused": reused}
