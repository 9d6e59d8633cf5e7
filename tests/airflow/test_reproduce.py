"""An Airflow task run reproduced through Airflow's own runner (``airflow dags test`` with the
recorded logical date and conf), and what stops it: a DAG file changed since, a dependency
that is not installed, a secret conf value not given again."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap

import pytest

import modeldb_core as mdb
from modeldb_core.errors import ReproductionBlockedError, ReproductionError

DAG_FILE = textwrap.dedent('''
    import os

    from airflow.sdk import dag, task

    import modeldb_core
    {extra_import}


    @dag(dag_id="{dag_id}", schedule=None, render_template_as_native_obj=True,
         params={{"workdir": "", "scale": 1.0, "api_token": ""}})
    def pipeline():
        @task
        def prepare(workdir: str) -> str:
            path = os.path.join(workdir, "numbers.txt")
            with open(path, "w") as fh:
                fh.write("1 2 3 4\\n")
            return path

        @task
        def train(path: str, scale: float) -> str:
            total = sum(float(x) * scale for x in open(path).read().split())
            out = os.path.join(os.path.dirname(path), "model.txt")
            with open(out, "w") as fh:
                fh.write(f"{{total:.6f}}\\n")
            modeldb_core.log_metric("total", total)
            return out

        @task
        def publish(model_path: str) -> None:
            with open(model_path + ".published", "w") as fh:
                fh.write("done\\n")

        publish(train(prepare(workdir="{{{{ params.workdir }}}}"), scale="{{{{ params.scale }}}}"))


    DAG = pipeline()
''')


def _git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def _write_dag(folder, dag_id, extra_import=""):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{dag_id}.py"
    path.write_text(DAG_FILE.format(dag_id=dag_id, extra_import=extra_import))
    return path


def _load(path, dag_id):
    """The DAG object as the file defines it (its ``fileloc`` is the file)."""
    spec = importlib.util.spec_from_file_location(dag_id, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[dag_id] = module
    spec.loader.exec_module(module)
    return next(v for v in vars(module).values() if getattr(v, "dag_id", None) == dag_id)


def _task_run(client, name):
    return next(r for r in client.store.list_runs(limit=100) if r.name == name)


def test_an_airflow_task_run_reproduces_with_dags_test_and_its_recorded_conf(tmp_path, run_dag, airflow_tracking):
    client = airflow_tracking
    repo = tmp_path / "dags_repo"
    path = _write_dag(repo / "dags", "mdb_repro_git")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "dev@example.com")
    _git(repo, "config", "user.name", "Dev")
    _git(repo, "add", "dags")
    _git(repo, "commit", "-q", "-m", "dag")
    work = tmp_path / "work"
    work.mkdir()
    dag_run = run_dag(_load(path, "mdb_repro_git"), workdir=str(work), scale=3.0, api_token="s3cret")
    assert dag_run.state == "success"
    client.flush()
    original = _task_run(client, "train")
    entry = client.store.run_recipe(original.id)["entry"]
    assert entry["kind"] == "airflow" and entry["dag_id"] == "mdb_repro_git" and entry["task_id"] == "train"
    assert entry["dag_file"] == str(path) and entry["dag_file_hash"].startswith("sha256:")
    assert entry["conf"] == {"workdir": str(work), "scale": 3.0, "api_token": "***"}  # the secret is not kept

    # The secret conf value was not recorded: refused, naming it, until it is given again.
    plan = mdb.reproduce(original.id, dry_run=True)
    assert plan.kind == "airflow" and plan.entry_point == "mdb_repro_git/train" and plan.commit
    assert [b.problem for b in plan.blockers] == ["argument 'conf.api_token' is a secret: its value was not recorded"]
    with pytest.raises(ReproductionBlockedError, match="conf.api_token"):
        mdb.reproduce(original.id)

    model_before = (work / "model.txt").read_bytes()
    verdict = mdb.reproduce(original.id, arguments={"conf.api_token": "s3cret"})
    assert verdict.verdict == "identical", (verdict.differences, verdict.error)
    assert "return" in verdict.identical_outputs
    reproduced = client.store.get_run_detail(verdict.reproduction_run_id)
    assert reproduced.run.orchestrator == "airflow" and reproduced.run.name == "train"
    assert reproduced.params["scale"] == 3.0 and reproduced.metrics["total"] == 30.0
    assert reproduced.run.external_id != original.external_id  # a DAG run of its own
    of, _ = client.store.reproductions(verdict.reproduction_run_id)
    assert of.original_run_id == original.id and of.verdict == "identical"
    # The user's files are as they were, and the downstream task did not run again.
    assert (work / "model.txt").read_bytes() == model_before
    assert [r.name for r in client.store.list_runs(limit=100)].count("publish") == 1


def test_a_changed_dag_file_blocks_reproduction_and_says_which(tmp_path, run_dag, airflow_tracking):
    client = airflow_tracking
    path = _write_dag(tmp_path / "plain_dags", "mdb_repro_plain")  # a dags folder outside git
    work = tmp_path / "work"
    work.mkdir()
    assert run_dag(_load(path, "mdb_repro_plain"), workdir=str(work), scale=2.0).state == "success"
    client.flush()
    original = _task_run(client, "train")
    assert mdb.reproduce(original.id, dry_run=True).reproducible

    path.write_text(path.read_text().replace("float(x) * scale", "float(x) * scale + 1"))
    plan = mdb.reproduce(original.id, dry_run=True)
    assert not plan.reproducible
    assert plan.blockers[0].problem.startswith(f"the DAG file {path} has changed since the run (recorded sha256:")
    with pytest.raises(ReproductionBlockedError, match="has changed since the run"):
        mdb.reproduce(original.id)


def test_a_missing_dependency_of_the_dag_file_is_named(tmp_path, run_dag, airflow_tracking, monkeypatch):
    client = airflow_tracking
    helpers = tmp_path / "site"  # a module the original run had on its path; the re-run does not
    helpers.mkdir()
    (helpers / "rowtools_mdb.py").write_text("ROWS = 4\n")
    monkeypatch.syspath_prepend(str(helpers))
    path = _write_dag(tmp_path / "dep_dags", "mdb_repro_dep", extra_import="import rowtools_mdb")
    work = tmp_path / "work"
    work.mkdir()
    assert run_dag(_load(path, "mdb_repro_dep"), workdir=str(work)).state == "success"
    client.flush()
    original = _task_run(client, "train")
    with pytest.raises(ReproductionError) as failure:
        mdb.reproduce(original.id)
    message = str(failure.value)
    assert f"Airflow could not parse the DAG file {path}" in message
    assert "No module named 'rowtools_mdb'" in message and "missing dependency" in message
