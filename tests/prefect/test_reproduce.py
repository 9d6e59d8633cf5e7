"""A Prefect task run reproduced through Prefect: its task called again in a flow; and a whole
flow run: the flow called again with its recorded parameters, its task runs compared one by one."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from click.testing import CliRunner

import modeldb_core as mdb
from modeldb_core.integrations.prefect import track

MODULE = textwrap.dedent('''
    from prefect import flow, task


    @task
    def summarize(data_path: str, scale: float = 2.0) -> dict:
        values = [float(x) for x in open(data_path).read().split()]
        return {"total": sum(values) * scale, "n": len(values)}


    @flow
    def pipeline(data_path: str, scale: float = 2.0) -> dict:
        return summarize(data_path, scale)


    @task
    def describe(summary: dict) -> str:
        return f"{summary['total']:.3f} over {summary['n']} values"


    @flow
    def report(data_path: str, scale: float, api_key: str) -> str:
        if not api_key or "***" in api_key:  # what a flow that calls a service with it would find
            raise PermissionError("the service refuses this api key")
        return describe(summarize(data_path, scale))
''')


def _git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def _repo(tmp_path, monkeypatch):
    repo = tmp_path / "pflow_repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "dev@example.com")
    _git(repo, "config", "user.name", "Dev")
    (repo / "pflow.py").write_text(MODULE)
    _git(repo, "add", "pflow.py")
    _git(repo, "commit", "-q", "-m", "flow")
    data = tmp_path / "data.txt"
    data.write_text("1 2 3 4\n")
    monkeypatch.syspath_prepend(str(repo))
    sys.modules.pop("pflow", None)
    import pflow

    return pflow, data


def test_a_prefect_task_run_reproduces_through_prefect(tmp_path, sqlite_uri, monkeypatch):
    monkeypatch.setenv("MODELDB_URI", sqlite_uri)
    pflow, data = _repo(tmp_path, monkeypatch)

    client = mdb.configure(uri=sqlite_uri)
    try:
        assert track(pflow.pipeline, project="pf")(str(data), 3.0) == {"total": 30.0, "n": 4}
        original = next(r for r in client.store.list_runs(project="pf", limit=10) if r.name == "summarize")
        # The re-run is another process: it talks to this session's Prefect server, as a
        # user's does to theirs through PREFECT_API_URL.
        from prefect.settings import get_current_settings

        monkeypatch.setenv("PREFECT_API_URL", str(get_current_settings().api.url))
        plan = mdb.reproduce(original.id, dry_run=True)
        assert plan.kind == "prefect" and plan.entry_point == "pflow:summarize" and plan.reproducible, plan.blockers
        verdict = mdb.reproduce(original.id)
        assert verdict.verdict == "identical", (verdict.differences, verdict.error)
        assert "return" in verdict.identical_outputs
        reproduced = client.store.get_run_detail(verdict.reproduction_run_id)
        assert reproduced.run.orchestrator == "prefect" and reproduced.params["scale"] == 3.0
        of, _ = client.store.reproductions(verdict.reproduction_run_id)
        assert of.original_run_id == original.id and of.verdict == "identical"
    finally:
        client.close()


def test_a_whole_prefect_flow_run_reproduces_task_by_task(tmp_path, sqlite_uri, monkeypatch):
    from modeldb_core.cli import cli

    monkeypatch.setenv("MODELDB_URI", sqlite_uri)
    pflow, data = _repo(tmp_path, monkeypatch)
    client = mdb.configure(uri=sqlite_uri)
    try:
        assert track(pflow.report, project="pf")(str(data), 3.0, api_key="k-123") == "30.000 over 4 values"
        runs = {r.name: r for r in client.store.list_runs(project="pf", limit=10)}
        assert set(runs) == {"summarize", "describe"}
        from prefect.settings import get_current_settings

        monkeypatch.setenv("PREFECT_API_URL", str(get_current_settings().api.url))
        plan = mdb.reproduce(runs["describe"].id, flow=True, dry_run=True)
        assert plan.kind == "prefect_flow" and plan.entry_point == "pflow:report"
        # The api key was redacted when recorded: refused, naming it, until it is given again.
        assert [b.problem for b in plan.blockers] == ["argument 'api_key' is a secret: its value was not recorded"]
        refused = CliRunner().invoke(cli, ["reproduce", runs["describe"].id, "--flow"])
        assert refused.exit_code != 0 and "api_key" in refused.output and "--set-env api_key=" in refused.output
        unset = CliRunner().invoke(cli, ["reproduce", runs["describe"].id, "--flow", "--set-env", "api_key=PF_KEY"])
        assert unset.exit_code == 2 and "the environment variable PF_KEY is not set" in unset.output

        monkeypatch.setenv("PF_KEY", "k-123")  # the secret comes from the environment, not the command line
        done = CliRunner().invoke(cli, ["reproduce", runs["describe"].id, "--flow", "--set-env", "api_key=PF_KEY",
                                        "--json"])
        assert done.exit_code == 0, done.output
        verdict = json.loads(done.stdout)
        assert verdict["verdict"] == "identical", verdict
        by_original = {t["run_id"]: t for t in verdict["tasks"]}
        assert set(by_original) == {runs["summarize"].id, runs["describe"].id}
        assert all(t["verdict"] == "identical" and "return" in t["identical_outputs"] for t in verdict["tasks"])
        new = client.store.get_run_detail(by_original[runs["describe"].id]["reproduction_run_id"])
        assert new.run.name == "describe" and new.run.pipeline_run_id != runs["describe"].pipeline_run_id
        _, reproductions = client.store.reproductions(runs["summarize"].id)
        assert [r.verdict for r in reproductions] == ["identical"]
    finally:
        client.close()
