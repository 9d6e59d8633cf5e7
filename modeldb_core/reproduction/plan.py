"""The plan of a reproduction: what re-executing a run needs, and what stands in the way.

Read from what the run recorded (its code version, environment, params, inputs and
recipe, ``modeldb_core/recipe.py``) and checked against this machine: the commit is
in the repository, the dirty diff is in the artifact store, each input's exact bytes
exist (a snapshot, or the original file whose content hash still matches), the
packages the run's module imports are the versions it ran with. Nothing is executed.
"""
from __future__ import annotations

import functools
import hashlib
import os
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import capture, recipe
from ..artifact_store import ArtifactStore
from ..model import RunDetail

SNAPSHOT, ORIGINAL, MISSING, CHANGED, IN_MEMORY = "snapshot", "original", "missing", "changed", "in-memory"
UPSTREAM = "upstream"  # no longer there: the pipeline's upstream task makes it again
AIRFLOW = "airflow"  # an Airflow task run: its DAG file is the code Airflow runs
# What a scikit-learn fit needs besides the standard library.
SKLEARN_PACKAGES = ("scikit-learn", "numpy", "scipy")


@dataclass(frozen=True)
class Blocker:
    """Something that keeps the run from being reproduced, and what to do about it."""

    problem: str
    fix: str


@dataclass(frozen=True)
class InputSource:
    """One input of the run and where its exact bytes come from (``source``)."""

    name: str | None
    uri: str
    content_hash: str
    source: str  # snapshot | original | in-memory | upstream | changed | missing
    snapshot: str | None = None
    argument: bool = False  # the input is an argument of the entry point
    producer: str | None = None  # source "upstream": the run that wrote it, reproduced first


@dataclass(frozen=True)
class PackageDifference:
    """A package the run's code imports whose installed version is not the recorded one."""

    package: str
    recorded: str | None
    current: str | None


@dataclass
class ReproductionPlan:
    """What ``modeldb reproduce RUN`` will do (``--dry-run`` prints it and stops)."""

    run_id: str
    name: str
    kind: str | None  # python (a @tracked_task call) | sklearn (a fit) | luigi | prefect | prefect_flow | airflow
    # | None (nothing to re-execute)
    entry_point: str | None
    repo: str | None
    commit: str | None
    dirty: bool
    diff: str | None  # the diff's hash when captured
    python_recorded: str | None
    python_current: str
    packages: list[PackageDifference] = field(default_factory=list)
    inputs: list[InputSource] = field(default_factory=list)
    seed: dict[str, Any] | None = None
    unseeded: bool = False
    blockers: list[Blocker] = field(default_factory=list)
    recipe: dict[str, Any] = field(default_factory=dict)
    source_file: str | None = None
    upstream: list["ReproductionPlan"] = field(default_factory=list)  # --upstream: reproduced first

    @property
    def reproducible(self) -> bool:
        return not self.blockers

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("recipe")
        data["upstream"] = [before.to_dict() for before in self.upstream]
        data["reproducible"] = self.reproducible
        return data


def _git(repo: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", repo, *args], capture_output=True, timeout=30, check=False)


def _file_path(uri: str, cwd: str | None = None) -> str | None:
    path = uri.removeprefix("file://")
    if "://" in path or path.startswith("value:"):
        return None
    return os.path.join(cwd, path) if cwd and not os.path.isabs(path) else path


def resolved(uri: str, cwd: str | None) -> str:
    """The file path of an input's URI (a relative one from the run's working directory)."""
    return _file_path(uri, cwd) or uri


def _verified(path: str, content_hash: str, size: int | None = None, hash_limit: int | None = None) -> bool:
    """The file still has the recorded content (by its hash; by its size alone past
    ``hash_limit`` bytes, what a page showing the plan can afford)."""
    from ..fingerprint import hash_file

    try:
        if not os.path.isfile(path):
            return False
        if hash_limit is not None and os.path.getsize(path) > hash_limit:
            return size is None or os.path.getsize(path) == size
        return hash_file(path)[0] == content_hash
    except OSError:
        return False


@functools.lru_cache(maxsize=1)
def _distributions_of_modules() -> dict[str, list[str]]:
    from importlib import metadata

    return metadata.packages_distributions()


def imported_distributions(source: str) -> list[str]:
    """The installed distributions a module's source imports (top-level names, any depth)."""
    names = {name.split(".")[0] for name in capture.imported_modules(source)}
    found = set()
    by_module = _distributions_of_modules()
    for name in names:
        found.update(d.lower() for d in by_module.get(name, ()))
    return sorted(found)


def _current_version(package: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _module_source(detail: RunDetail) -> str | None:
    code = detail.code_version
    if code is None or not code.source_file:
        return None
    try:
        return Path(code.source_file).read_text()
    except OSError:
        return None


def make_plan(store: Any, run_id: str, artifacts: ArtifactStore, upstream: bool = False,
              _seen: frozenset[str] = frozenset(), hash_limit: int | None = None,
              flow: bool = False) -> ReproductionPlan:
    """The plan of ``run_id``; with ``upstream``, an input that is gone or changed is made
    again by reproducing the run that wrote it first (and so on up the lineage); with
    ``flow``, of the whole Prefect flow run the task run ``run_id`` belongs to."""
    detail = store.get_run_detail(run_id)
    parts = store.run_recipe(detail.run.id)
    if flow:  # the whole flow run this task run is part of: the flow is the entry point
        parts = {**parts, recipe.ENTRY: parts[recipe.FLOW]} if recipe.FLOW in parts else {}
    entry = parts.get(recipe.ENTRY)
    fit = parts.get(recipe.SKLEARN)
    code, env = detail.code_version, detail.environment
    kind = entry.get("kind", "python") if entry else "sklearn" if fit else None
    plan = ReproductionPlan(
        run_id=detail.run.id, name=detail.run.name, kind=kind,
        entry_point=entry["target"] if entry else (fit or {}).get("estimator"),
        repo=code.repo_path if code else None, commit=code.git_commit if code else None,
        dirty=bool(code and code.git_dirty), diff=code.git_diff_hash if code and code.git_dirty else None,
        python_recorded=env.python_version if env else None, python_current=platform.python_version(),
        recipe=parts, source_file=(entry or {}).get("source_file") or (code.source_file if code else None))
    blockers = plan.blockers
    if kind is None and flow:
        blockers.append(Blocker("the run is not a task run of a tracked Prefect flow (no flow recorded)",
                                "track the flow with modeldb_core.integrations.prefect.track or @tracked_flow, "
                                "and run it once more"))
    elif kind is None:
        blockers.append(Blocker(
            "the run recorded no entry point to execute again",
            "track the function with @tracked_task (an importable module-level function) or fit with "
            "scikit-learn logging on, and run it once more"))
    if kind == AIRFLOW:
        _check_dag_file(plan, entry, artifacts)
    elif kind not in (None, "sklearn"):
        _check_code(plan, artifacts)
    if not flow:  # a flow's inputs are its parameters: what its tasks read is compared, not checked
        _check_inputs(plan, detail, entry, fit, artifacts, hash_limit)
    if upstream:
        _plan_upstream(plan, detail, store, artifacts, _seen | {detail.run.id})
    if entry:
        for name, how in entry.get("arguments", {}).items():
            if how["from"] == "secret":
                blockers.append(Blocker(f"argument {name!r} is a secret: its value was not recorded", _give_again(name)))
            elif how["from"] == "param" and not how.get("exact", True):
                blockers.append(Blocker(
                    f"argument {name!r} was a Python object recorded by its description only "
                    f"({str(detail.params.get(name))[:60]})",
                    "pass it as a file path or array (an input), or reproduce from Python with "
                    "mdb.reproduce(run, arguments={...})"))
            elif how["from"] == "param" and _redacted(detail.params.get(name)):
                blockers.append(Blocker(f"argument {name!r} was redacted when recorded (it holds a secret: "
                                        f"{str(detail.params.get(name))[:60]})", _give_again(name)))
    seed = recipe.seed_of(detail.params)
    plan.seed = {"param": seed[0], "value": seed[1]} if seed else None
    randomness = parts.get(recipe.RANDOMNESS) or {}
    plan.unseeded = bool(randomness.get("unseeded")) or bool((fit or {}).get("unseeded"))
    # Environment: the packages the run's code imports, and Python itself.
    if env is not None:
        wanted = set(SKLEARN_PACKAGES) if kind == "sklearn" else set()
        source = _module_source(detail)
        if source:
            wanted.update(imported_distributions(source))
        for package in sorted(wanted):
            recorded, current = env.packages.get(package), _current_version(package)
            if recorded != current and (recorded or current):
                plan.packages.append(PackageDifference(package, recorded, current))
    return plan


def _give_again(name: str) -> str:
    """The one wording of how to give an argument the run could not record."""
    return (f"give it again: modeldb reproduce RUN --set {name}=VALUE, or --set-env {name}=ENV_VAR to read it "
            "from an environment variable (from Python: mdb.reproduce(run, arguments={...}))")


def _redacted(value: Any) -> bool:
    """Whether a recorded param holds the redaction mask (a URI password, a secret dict key)."""
    from ..redaction import MASK

    if isinstance(value, str):
        return MASK in value
    if isinstance(value, dict):
        return any(_redacted(v) for v in value.values())
    if isinstance(value, list):
        return any(_redacted(v) for v in value)
    return False


def _plan_upstream(plan: ReproductionPlan, detail: RunDetail, store: Any, artifacts: ArtifactStore,
                   seen: frozenset[str]) -> None:
    """Inputs that are gone or changed, made again by the run that wrote them."""
    by_uri = {io.artifact.uri: io.artifact for io in detail.inputs}
    for number, item in enumerate(plan.inputs):
        if item.source not in (CHANGED, MISSING) or plan.kind != "python":
            continue
        version = by_uri[item.uri]
        writers = [u for u in store.artifact_uses([version.id]) if u["direction"] == "output"
                   and u["status"] == "succeeded" and u["run_id"] not in seen]
        if not writers or len(seen) > 20:
            continue
        producer = min(writers, key=lambda u: u["started_at"])["run_id"]
        upstream = make_plan(store, producer, artifacts, True, seen)
        plan.upstream.append(upstream)
        plan.inputs[number] = InputSource(item.name, item.uri, item.content_hash, UPSTREAM, None, item.argument,
                                          producer)
        label = f"input {item.name!r} ({item.uri})" if item.name else f"input {item.uri}"
        plan.blockers[:] = [b for b in plan.blockers if not b.problem.startswith(label)]
        if not item.argument:
            plan.blockers.append(Blocker(f"{label} is made again by run {producer}, but the function reads "
                                         "it from its own path, not from an argument",
                                         "restore the file, or pass it to the function as an argument"))
        plan.blockers += [Blocker(f"upstream run {upstream.run_id} ({upstream.name}): {b.problem}", b.fix)
                          for b in upstream.blockers]


def _check_code(plan: ReproductionPlan, artifacts: ArtifactStore) -> None:
    blockers = plan.blockers
    if not plan.commit or not plan.repo:
        blockers.append(Blocker("the run's code was not in a git repository with a commit",
                                "commit the code and run it again"))
        return
    if not Path(plan.repo).is_dir():
        blockers.append(Blocker(f"the repository {plan.repo} is not on this machine",
                                f"clone it there (it must contain commit {plan.commit[:12]})"))
        return
    if _git(plan.repo, "cat-file", "-e", f"{plan.commit}^{{commit}}").returncode != 0:
        blockers.append(Blocker(f"commit {plan.commit[:12]} is not in {plan.repo}",
                                "fetch it (git fetch --all) or push it from where the run was made"))
    if plan.dirty and not (plan.diff and artifacts.exists(plan.diff)):
        blockers.append(Blocker("the run was made from a dirty tree and its diff was not captured",
                                "commit the change and run again (ModelDB now keeps the diff of a dirty tree)"))
    if plan.source_file:
        rel = os.path.relpath(plan.source_file, plan.repo)
        if _git(plan.repo, "cat-file", "-e", f"{plan.commit}:{rel}").returncode != 0 and not plan.dirty:
            blockers.append(Blocker(f"{rel} is not in commit {plan.commit[:12]} (an untracked file)",
                                    f"git add {rel} && git commit, then run again"))


def _check_dag_file(plan: ReproductionPlan, entry: dict[str, Any], artifacts: ArtifactStore) -> None:
    """The DAG file Airflow will run must be the one the run used: from its commit (with the
    captured diff) when it was in git, else the file where it was, verified by its hash."""
    from ..fingerprint import hash_file

    dag_file, recorded = entry.get("dag_file"), entry.get("dag_file_hash")
    in_git = bool(plan.repo and plan.commit and dag_file and Path(dag_file).is_relative_to(plan.repo))
    if in_git:
        _check_code(plan, artifacts)
        rel = os.path.relpath(dag_file, plan.repo)
        shown = _git(plan.repo, "show", f"{plan.commit}:{rel}") if Path(plan.repo).is_dir() else None
        if not plan.dirty and shown is not None and shown.returncode == 0 and recorded \
                and "sha256:" + hashlib.sha256(shown.stdout).hexdigest() != recorded:
            plan.blockers.append(Blocker(
                f"the DAG file {rel} at commit {plan.commit[:12]} is not the one the run used "
                f"(recorded {recorded[:19]})", "commit the DAG file the run used, or restore it"))
        return
    plan.commit = None  # not in git: the DAG file is used where it is
    if not dag_file or not os.path.isfile(dag_file):
        plan.blockers.append(Blocker(f"the DAG file {dag_file} no longer exists",
                                     "restore it (or keep your DAGs in git, so ModelDB can check the run's "
                                     "version out)"))
        return
    now = hash_file(dag_file)[0] if recorded else None
    if recorded and now != recorded:
        bundle = entry.get("bundle") or {}
        version = f" (bundle {bundle.get('name')} version {bundle['version']})" if bundle.get("version") else ""
        plan.blockers.append(Blocker(
            f"the DAG file {dag_file} has changed since the run (recorded {recorded[:19]}, now {now[:19]})",
            f"restore the DAG file the run used{version}, or keep your DAGs in git so ModelDB can check the "
            "run's version out"))


def _check_inputs(plan: ReproductionPlan, detail: RunDetail, entry: dict | None, fit: dict | None,
                  artifacts: ArtifactStore, hash_limit: int | None = None) -> None:
    arguments = (entry or {}).get("arguments", {})
    snapshots = {**(entry or {}).get("snapshots", {}), **(fit or {}).get("snapshots", {})}
    fit_data = set((fit or {}).get("data", ())) if plan.kind == "sklearn" else None
    for io in detail.inputs:
        a = io.artifact
        if io.name and arguments.get(io.name, {}).get("from") == "output":
            continue  # a folder the call writes into: the re-run gets a fresh one
        if fit_data is not None and io.name not in fit_data:
            continue  # read after the fit (evaluation data): not part of re-fitting
        snapshot = snapshots.get(io.name) if io.name else None
        if snapshot and not artifacts.exists(snapshot):
            snapshot = None
        is_argument = bool(io.name and arguments.get(io.name, {}).get("from") == "input")
        path = _file_path(a.uri, (entry or {}).get("cwd"))
        if path is not None and _verified(path, a.content_hash, a.size, hash_limit):
            source = ORIGINAL
        elif snapshot:
            source = SNAPSHOT
        elif path is None:
            source = IN_MEMORY
        elif not os.path.exists(path) and plan.kind == "luigi":
            source = UPSTREAM  # the upstream task that wrote it runs again
        else:
            source = CHANGED if os.path.exists(path) else MISSING
        plan.inputs.append(InputSource(io.name, a.uri, a.content_hash, source, snapshot, is_argument))
        label = f"input {io.name!r} ({a.uri})" if io.name else f"input {a.uri}"
        if source in (CHANGED, MISSING):
            fix = ("restore the file with the recorded content (" + a.content_hash[:19] + "), or run again "
                   "with @tracked_task(snapshot_inputs=True) or MODELDB_SNAPSHOT_MAX_BYTES so its bytes are kept")
            problem = f"{label} has changed since the run (its content hash no longer matches) and was not " \
                      "snapshotted" if source == CHANGED else f"{label} no longer exists and was not snapshotted"
            plan.blockers.append(Blocker(problem, fix))
        elif source == SNAPSHOT and not is_argument and plan.kind == "python":
            plan.blockers.append(Blocker(
                f"{label} has changed since the run; it was snapshotted but the function reads it "
                "from its own path, not from an argument",
                f"restore the file from its snapshot ({artifacts.path(snapshot)}) or pass it as an argument"))
        elif source == IN_MEMORY and plan.kind == "sklearn" and not snapshot:
            size = ((fit or {}).get("not_kept") or {}).get(io.name)
            plan.blockers.append(Blocker(
                f"the training data {label} was not kept" + (f" ({size} bytes)" if size else ""),
                "fit again with MODELDB_FIT_DATA_MAX_BYTES (the fit_data_max_bytes setting) at least "
                f"{size or 'its size'} so the training data is kept"))
        elif source == IN_MEMORY and is_argument and not snapshot:
            plan.blockers.append(Blocker(
                f"{label} was an in-memory value and was not snapshotted",
                "run again with @tracked_task(snapshot_inputs=True) or MODELDB_SNAPSHOT_MAX_BYTES"))
