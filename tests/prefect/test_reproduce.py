"""A Prefect task run reproduced through Prefect: its task called again in a flow."""
from __future__ import annotations

import subprocess
import sys
import textwrap

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
''')


def _git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_a_prefect_task_run_reproduces_through_prefect(tmp_path, sqlite_uri, monkeypatch):
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
    monkeypatch.setenv("MODELDB_URI", sqlite_uri)
    sys.modules.pop("pflow", None)
    import pflow

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
