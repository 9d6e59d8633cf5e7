"""Re-executing a run: the code checked out at its commit with its diff, the entry point
called in a fresh process with the recorded arguments, inputs and seed, as a new run
linked to the original; then the verdict (``verdict.py``)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ..artifact_store import ArtifactStore
from ..errors import NotFoundError, ReproductionError
from ..events import REPRODUCTION, uuid7
from .. import recipe
from .plan import SNAPSHOT, UPSTREAM, ReproductionPlan, resolved
from .verdict import DEFAULT_TOLERANCE, FAILED, Verdict, compare, worst

RUN_TIMEOUT = 24 * 3600.0


class Workspace:
    """The folder a reproduction works in: ``code/`` (a git worktree), ``inputs/``, ``outputs/``.
    A temporary one is removed afterwards; one the user named (``--workdir``) is kept."""

    def __init__(self, folder: str | os.PathLike | None):
        self.keep = folder is not None
        self.root = Path(folder).resolve() if folder else Path(tempfile.mkdtemp(prefix="modeldb-reproduce-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self._worktrees: list[tuple[str, Path]] = []

    def __enter__(self) -> "Workspace":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.keep:
            return
        for repo, path in self._worktrees:
            subprocess.run(["git", "-C", repo, "worktree", "remove", "--force", str(path)],
                           capture_output=True, check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def checkout(self, plan: ReproductionPlan, artifacts: ArtifactStore) -> Path | None:
        """The run's code: a detached worktree at its commit with the captured diff applied
        (None for code outside git that the plan allows where it is: an Airflow DAG file
        whose hash still matches)."""
        if plan.commit is None:
            return None
        target = self.root / f"code-{plan.run_id[:8]}"
        if target.exists():
            return target
        done = subprocess.run(["git", "-C", plan.repo, "worktree", "add", "--detach", str(target), plan.commit],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise ReproductionError(f"git worktree add of {plan.commit[:12]} failed: {done.stderr.strip()}")
        self._worktrees.append((plan.repo, target))
        if plan.dirty and plan.diff:
            applied = subprocess.run(["git", "-C", str(target), "apply", "--binary", "--whitespace=nowarn",
                                      str(artifacts.path(plan.diff))], capture_output=True, text=True, check=False)
            if applied.returncode != 0:
                raise ReproductionError(f"the captured diff does not apply on {plan.commit[:12]}: "
                                        f"{applied.stderr.strip()}")
        return target

    def place(self, folder: str, name: str, basename: str) -> Path:
        path = self.root / folder / name.replace("/", "_")
        path.mkdir(parents=True, exist_ok=True)
        return path / basename


def _import_root(plan: ReproductionPlan, code: Path | None) -> tuple[Path, Path]:
    """(the folder to put first on sys.path, the module's file) in the checked-out code."""
    if code is None or ":" not in plan.entry_point:  # the file where it is / a runner's own target
        source = Path(plan.source_file or plan.recipe[recipe.ENTRY].get("dag_file") or ".")
        source = code / os.path.relpath(source, plan.repo) if code is not None else source
        return source.parent, source
    module = plan.entry_point.split(":", 1)[0]
    relative = Path(os.path.relpath(plan.source_file, plan.repo))
    source = code / relative
    depth = 0 if module == "__main__" else len(module.split(".")) - (0 if relative.name == "__init__.py" else 1)
    root = source.parent
    for _ in range(depth):
        root = root.parent
    return root, source


def _spec(plan: ReproductionPlan, detail: Any, code: Path | None, ws: Workspace, artifacts: ArtifactStore,
          run_id: str, overrides: dict[str, Any]) -> dict[str, Any]:
    entry = plan.recipe[recipe.ENTRY]
    root, source = _import_root(plan, code)
    inputs = {i.name: i for i in plan.inputs if i.name}
    arguments: dict[str, Any] = {}
    for name, how in entry.get("arguments", {}).items():
        kind = how.get("type")
        if name in overrides:
            arguments[name] = {"value": overrides[name]}
        elif how["from"] == "input":
            found = inputs[name]
            if found.uri.startswith("value:"):
                arguments[name] = {"pickle": found.snapshot}
                continue
            path = resolved(found.uri, entry.get("cwd"))
            if found.source == SNAPSHOT:
                copy = ws.place("inputs", name, os.path.basename(path) or name)
                shutil.copyfile(artifacts.path(found.snapshot), copy)
                path = str(copy)
            arguments[name] = {"value": path, "type": kind}
        elif how["from"] == "output":
            original = str(detail.params.get(name) or name)
            target = ws.place("outputs", name, os.path.basename(original.rstrip("/")) or name)
            if how.get("directory"):
                target.mkdir(exist_ok=True)
            arguments[name] = {"value": str(target), "type": kind}
        else:
            arguments[name] = {"value": detail.params.get(name), "type": kind}
    spec = {"original": plan.run_id, "run_id": run_id, "target": plan.entry_point, "import_root": str(root),
            "source_file": str(source), "arguments": arguments,
            "seed_everything": detail.params.get("seed_everything")}
    if entry.get("runner"):  # an orchestrator's task: its own runner makes the call
        spec = {**entry, **spec, "project": detail.run.project, "workspace": str(ws.root), "repo": plan.repo,
                "checkout": None if code is None else str(code)}
    return spec


def _child_environment(settings: Any, import_root: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"MODELDB_URI": settings.uri, "MODELDB_ARTIFACTS": str(settings.artifacts),
                "MODELDB_JOURNAL": str(settings.journal),
                "MODELDB_PRIVATE_FILES": "1" if settings.private_files else "0"})
    env["PYTHONPATH"] = os.pathsep.join(p for p in (import_root, env.get("PYTHONPATH")) if p)
    return env


def _landed(client: Any, run_id: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return client.store.get_run_detail(run_id)
        except NotFoundError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def run_python(client: Any, plan: ReproductionPlan, workdir: str | None, python: str | None = None,
               tolerance: float = DEFAULT_TOLERANCE, overrides: dict[str, Any] | None = None) -> Verdict:
    """Re-execute a run that has an entry point (and, first, its ``plan.upstream``) and compare."""
    with Workspace(workdir) as ws:
        verdict, _ = _execute(client, plan, ws, python, tolerance, overrides or {})
    return verdict


def _execute(client: Any, plan: ReproductionPlan, ws: Workspace, python: str | None, tolerance: float,
             overrides: dict[str, Any]) -> tuple[Verdict, dict[str, str]]:
    """The verdict, and the files the re-run wrote by content hash (what a downstream run reads)."""
    store = client.store
    artifacts = ArtifactStore(client.settings.artifacts)
    made: dict[str, str] = {}
    upstream = []
    for before in plan.upstream:
        verdict, files = _execute(client, before, ws, python, tolerance, {})
        upstream.append(verdict)
        made.update(files)
    detail = store.get_run_detail(plan.run_id)
    new_id = uuid7()  # a @tracked_task re-run takes this id; an orchestrator's runner says its own
    code = ws.checkout(plan, artifacts)
    spec = _spec(plan, detail, code, ws, artifacts, new_id, overrides)
    for name, how in spec.get("arguments", {}).items():
        item = next((i for i in plan.inputs if i.name == name and i.source == UPSTREAM), None)
        if item is not None:
            if item.content_hash not in made:
                raise ReproductionError(f"upstream run {item.producer} did not make input {name!r} again "
                                        f"with the recorded content ({item.content_hash[:19]})")
            how["value"] = made[item.content_hash]
    result = _call_runner(client, plan, ws, spec, python)
    try:
        new_id = result["run_id"]
        reproduced = _landed(client, new_id)
    except (KeyError, NotFoundError):
        raise ReproductionError(f"the re-run of {plan.entry_point} started no run") from None
    recipe_now = store.run_recipe(new_id).get(recipe.RANDOMNESS) or {}
    verdict = compare(detail, reproduced, plan, tolerance, bool(recipe_now.get("unseeded")), artifacts)
    verdict.reused = list(result.get("reused", []))
    verdict.upstream = upstream
    record(client, verdict)
    for io in reproduced.outputs:
        path = io.artifact.uri.removeprefix("file://")
        if os.path.isfile(path) and str(ws.root) in os.path.abspath(path):
            made[io.artifact.content_hash] = os.path.abspath(path)
    return verdict, made


def _call_runner(client: Any, plan: ReproductionPlan, ws: Workspace, spec: dict[str, Any],
                 python: str | None) -> dict[str, Any]:
    """Run ``runner.py`` on ``spec`` in a fresh process; what it says it made."""
    name = spec["run_id"]
    spec["result"] = str(ws.root / f"result-{name}.json")
    spec_path = ws.root / f"spec-{name}.json"
    spec_path.write_text(json.dumps(spec, indent=1))
    cwd = plan.recipe[recipe.ENTRY].get("cwd")
    done = subprocess.run([python or sys.executable, "-m", "modeldb_core.reproduction.runner", str(spec_path)],
                          cwd=cwd if cwd and os.path.isdir(cwd) else ws.root,
                          env=_child_environment(client.settings, spec["import_root"]),
                          capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False)
    try:
        result = json.loads(Path(spec["result"]).read_text())
    except (OSError, ValueError):
        raise ReproductionError(f"the re-run of {plan.entry_point} started no run (exit status "
                                f"{done.returncode}): {done.stderr.strip()[-2000:]}") from None
    if result.get("error"):  # the runner said why it could not re-execute the run
        raise ReproductionError(result["error"])
    return result


def run_flow(client: Any, plan: ReproductionPlan, workdir: str | None, python: str | None = None,
             tolerance: float = DEFAULT_TOLERANCE, overrides: dict[str, Any] | None = None) -> Verdict:
    """Call a Prefect flow again with its recorded parameters and compare its task runs with
    the original flow run's, one by one (matched by task name, in the order they started)."""
    store = client.store
    artifacts = ArtifactStore(client.settings.artifacts)
    detail = store.get_run_detail(plan.run_id)
    with Workspace(workdir) as ws:
        code = ws.checkout(plan, artifacts)
        result = _call_runner(client, plan, ws, _spec(plan, detail, code, ws, artifacts, uuid7(), overrides or {}),
                              python)
    before = _task_runs(store, detail.run.project, detail.run.pipeline_run_id)
    after = _task_runs(store, detail.run.project, result["pipeline_run_id"])
    tasks = []
    for key, run in before.items():
        if key not in after:
            tasks.append(Verdict(run.id, None, FAILED, tolerance=tolerance,
                                 error=f"the reproduced flow run did not run task {key[0]!r} (its run {key[1] + 1})"))
            continue
        verdict = compare(store.get_run_detail(run.id), _landed(client, after[key].id), plan, tolerance,
                          bool((store.run_recipe(after[key].id).get(recipe.RANDOMNESS) or {}).get("unseeded")),
                          artifacts)
        verdict.plan = None
        record(client, verdict)
        tasks.append(verdict)
    overall = Verdict(plan.run_id, None, worst(t.verdict for t in tasks), tolerance=tolerance, plan=plan,
                      tasks=tasks, error=result.get("error_in_flow"))
    overall.likely_causes = sorted({c for t in tasks for c in t.likely_causes})
    return overall


def _task_runs(store: Any, project: str, pipeline_run_id: int | None) -> dict[tuple[str, int], Any]:
    """The last try of each task run of a flow run, by (task name, how many of that name started before)."""
    last: dict[str, Any] = {}
    for run in store.list_runs(project=project, limit=10_000):
        if pipeline_run_id is not None and run.pipeline_run_id == pipeline_run_id:
            key = run.external_id or run.id
            if key not in last or (run.try_number or 0) > (last[key].try_number or 0):
                last[key] = run
    found: dict[tuple[str, int], Any] = {}
    for run in sorted(last.values(), key=lambda r: r.started_at):
        found[(run.name, sum(1 for name, _ in found if name == run.name))] = run
    return found


def record(client: Any, verdict: Verdict) -> None:
    """Keep the verdict with the reproducing run (through the tracking runtime)."""
    if verdict.reproduction_run_id is None:
        return
    client.runtime.emit(REPRODUCTION, verdict.reproduction_run_id,
                        {"original": verdict.run_id, "verdict": verdict.verdict, "details": verdict.summary(),
                         "at": time.time()})
    client.flush()
