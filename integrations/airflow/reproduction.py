"""Reproducing an Airflow task run with Airflow itself (the runner its recipe names).

Capture (``record_entry``, called by the listener when a try starts): what
``airflow dags test`` needs to run the task again — the DAG id, task id and map index,
the DAG file with its content hash, the bundle's name and version, the DAG run's
logical date and conf (redacted: a secret conf value is replayed only from
``--set conf.<key>=...``).

Re-execution (``run``, called by ``modeldb_core/reproduction/runner.py`` in a fresh
process): Airflow runs the DAG file the run used (checked out at its commit, or the
original file when its hash still matches) with ``airflow dags test`` and the recorded
logical date and conf, in an Airflow home of its own (a fresh metadata DB: the
reproduction adds no DAG run to the user's Airflow). The upstream tasks run again to
hand the task its XComs; the tasks downstream of it are marked successful without
running. The files the original DAG run wrote are moved aside for the build and put
back afterwards (the reproduced ones are kept in the workspace), so the user's files
end as they were.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from stat import S_ISREG
from typing import Any

from modeldb_core import recipe
from modeldb_core.redaction import redact_value

RUNNER = "modeldb_core.integrations.airflow.reproduction:run"
CONF_PREFIX = "conf."
# The seconds ``airflow db migrate`` and ``airflow dags test`` may take (the DAG run itself).
DAG_TEST_TIMEOUT = 24 * 3600.0

_file_hashes: dict[tuple[str, int, int], str] = {}


def file_hash(path: str) -> str | None:
    """The DAG file's SHA-256, computed once per content (its size and mtime) and process;
    None if ``path`` is not a file."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    if not S_ISREG(stat.st_mode):
        return None
    key = (path, stat.st_size, stat.st_mtime_ns)
    found = _file_hashes.get(key)
    if found is None:
        from modeldb_core.fingerprint import hash_file

        found = _file_hashes[key] = hash_file(path)[0]
    return found


def _iso(value: Any) -> str | None:
    try:
        return value.isoformat() if value is not None else None
    except Exception:  # noqa: BLE001 - no logical date (a manual run in Airflow 3)
        return None


def record_entry(run: Any, record: Any) -> None:
    """The ``entry`` part of an Airflow task run's recipe (``modeldb_core/recipe.py``)."""
    dag = record.dag
    dag_file = getattr(dag, "fileloc", None)
    dag_file_hash = file_hash(dag_file) if run.id is not None and dag_file else None
    if dag_file_hash is None:
        return
    dag_run = record.context().get("dag_run")
    conf = dict(getattr(dag_run, "conf", None) or {})
    shown = {str(k): redact_value(str(k), v) for k, v in conf.items()}
    # A redacted conf value cannot be replayed: an argument the user gives again (--set conf.<key>).
    arguments = {f"{CONF_PREFIX}{k}": {"from": "secret"} for k, v in shown.items() if v != conf[k]}
    bundle = getattr(record.ti, "bundle_instance", None)
    target = f"{record.dag_id}/{record.task_id}"
    if record.map_index is not None and record.map_index >= 0:
        target += f"[{record.map_index}]"
    run.record_recipe(recipe.ENTRY, {
        "kind": "airflow", "target": target, "dag_id": record.dag_id, "task_id": record.task_id,
        "map_index": record.map_index, "dag_file": os.path.abspath(dag_file), "dag_file_hash": dag_file_hash,
        "bundle": {"name": getattr(bundle, "name", None), "version": getattr(bundle, "version", None)},
        "logical_date": _iso(getattr(dag_run, "logical_date", None)), "conf": shown,
        "airflow_run_id": record.run_id, "arguments": arguments, "cwd": os.getcwd(), "runner": RUNNER})


# -- re-execution ------------------------------------------------------------------------------
def dag_file_in(spec: dict[str, Any]) -> Path:
    """The DAG file to run: in the checkout when the run's code was in git, else where it was."""
    original = Path(spec["dag_file"])
    repo, checkout = spec.get("repo"), spec.get("checkout")
    if repo and checkout:
        try:
            return Path(checkout) / original.relative_to(repo)
        except ValueError:
            pass
    return original


def _downstream(dag: Any, task_id: str) -> set[str]:
    found: set[str] = set()
    stack = [task_id]
    while stack:
        for child in dag.task_dict[stack.pop()].downstream_task_ids:
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def _load_dag(dag_file: Path, dag_id: str) -> Any:
    """The DAG as Airflow parses it from ``dag_file``; a file that does not parse (a missing
    dependency, a syntax error) or no longer has the DAG is a clear error."""
    from airflow.dag_processing.dagbag import DagBag

    from modeldb_core.errors import ReproductionError

    bag = DagBag(dag_folder=str(dag_file), safe_mode=False, bundle_path=dag_file.parent)
    for error in bag.import_errors.values():
        last = [line for line in str(error).strip().splitlines() if line.strip()][-1:]
        cause = last[0].strip() if last else str(error)
        hint = (" (a missing dependency: install it, or reproduce with --env rebuild)"
                if "ModuleNotFoundError" in cause or "ImportError" in cause else "")
        raise ReproductionError(f"Airflow could not parse the DAG file {dag_file}: {cause}{hint}")
    dag = bag.dags.get(dag_id)
    if dag is None:
        raise ReproductionError(f"the DAG file {dag_file} no longer defines the DAG {dag_id!r}")
    return dag


def _airflow_environment(home: Path, dags_folder: Path, spec: dict[str, Any]) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__MODELDB__ENABLED": "true",
                "AIRFLOW__MODELDB__TRACK": "all",
                # The task's run must be in the store when `dags test` exits: drain, no hand-off.
                "MODELDB_EXIT_HANDOFF": "0", "MODELDB_EXIT_TIMEOUT": "120"})
    if spec.get("project"):
        env["MODELDB_PROJECT"] = spec["project"]
    return env


def _airflow(args: list[str], env: dict[str, str], cwd: str, what: str) -> None:
    from modeldb_core.errors import ReproductionError

    done = subprocess.run([sys.executable, "-m", "airflow", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=DAG_TEST_TIMEOUT, check=False)
    if done.returncode != 0:
        raise ReproductionError(f"{what} failed (exit status {done.returncode}): "
                                f"{(done.stderr.strip() or done.stdout.strip())[-2000:]}")


def _original_task_runs(store: Any, dag: Any, spec: dict[str, Any]) -> list[Any]:
    """Every try of every task instance of the original DAG run (mapped ones index by index)."""
    from .task_instance import ORCHESTRATOR, external_id

    runs = []
    for task_id in dag.task_dict:
        runs += store.runs_by_external_id(external_id(spec["dag_id"], spec["airflow_run_id"], task_id, None),
                                          orchestrator=ORCHESTRATOR)
        for index in range(10_000):
            found = store.runs_by_external_id(external_id(spec["dag_id"], spec["airflow_run_id"], task_id, index),
                                              orchestrator=ORCHESTRATOR)
            if not found:
                break
            runs += found
    return runs


def _local_outputs(client: Any, dag: Any, spec: dict[str, Any]) -> list[str]:
    """The files the original DAG run's tasks wrote (found in the store), to keep them safe."""
    paths: set[str] = set()
    for run in _original_task_runs(client.store, dag, spec):
        detail = client.store.get_run_detail(run.id)
        read = {io.artifact.uri for io in detail.inputs}  # a task handing on a file it was given made none
        for io in detail.outputs:
            path = io.artifact.uri.removeprefix("file://")
            if io.artifact.uri not in read and "://" not in path and os.path.isfile(path):
                paths.add(path)
    return sorted(paths)


def run(spec: dict[str, Any]) -> dict[str, Any]:
    from modeldb_core.client import get_client
    from modeldb_core.errors import ReproductionError
    from modeldb_core.events import REPRODUCTION

    from .task_instance import ORCHESTRATOR

    workspace = Path(spec["workspace"])
    dag_file = dag_file_in(spec)
    home = workspace / "airflow-home"
    home.mkdir(parents=True, exist_ok=True)
    env = _airflow_environment(home, dag_file.parent, spec)
    os.environ.update({k: env[k] for k in ("AIRFLOW_HOME", "AIRFLOW__CORE__DAGS_FOLDER",
                                           "AIRFLOW__CORE__LOAD_EXAMPLES")})
    dag = _load_dag(dag_file, spec["dag_id"])
    conf = dict(spec.get("conf") or {})
    for name, how in (spec.get("arguments") or {}).items():
        if name.startswith(CONF_PREFIX):
            conf[name[len(CONF_PREFIX):]] = how["value"]
    command = ["dags", "test", spec["dag_id"]]
    if spec.get("logical_date"):
        command.append(spec["logical_date"])
    command += ["--dagfile-path", str(dag_file), "--conf", json.dumps(conf)]
    downstream = _downstream(dag, spec["task_id"])
    if downstream:
        command += ["--mark-success-pattern", "^(" + "|".join(re.escape(t) for t in sorted(downstream)) + ")$"]
    client = get_client()
    cwd = spec["cwd"] if spec.get("cwd") and os.path.isdir(spec["cwd"]) else str(workspace)
    _airflow(["db", "migrate"], env, cwd, "airflow db migrate (the reproduction's own Airflow home)")
    aside, kept = workspace / "original-outputs", workspace / "outputs"
    moved = []
    for number, path in enumerate(_local_outputs(client, dag, spec)):
        target = aside / str(number) / os.path.basename(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(path, target)
        moved.append((path, target))
    started = time.time()
    failure = None
    try:
        _airflow(command, env, cwd, f"airflow dags test {spec['dag_id']}")
    except ReproductionError as exc:  # the DAG run failed: the task's own run, if it ran, says how
        failure = exc
    finally:
        for number, (path, target) in enumerate(moved):
            if os.path.exists(path):
                made = kept / str(number) / os.path.basename(path)
                made.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(path, made)
            shutil.move(target, path)
    client.flush()
    map_index = spec.get("map_index")
    runs = [r for r in client.store.list_runs(project=spec.get("project"), limit=1000)
            if r.name == spec["task_id"] and r.orchestrator == ORCHESTRATOR and r.started_at >= started - 1
            and r.external_id and r.external_id.startswith(f"{spec['dag_id']}/")
            and (map_index is None or map_index < 0 or r.external_id.endswith(f"[{map_index}]"))]
    if not runs:
        raise failure or ReproductionError(f"airflow dags test ran, but no run of task {spec['task_id']} "
                                           "was recorded")
    new = max(runs, key=lambda r: r.started_at)
    client.runtime.emit(REPRODUCTION, new.id, {"original": spec["original"], "at": time.time()})
    client.flush()
    return {"run_id": new.id, "reused": []}
