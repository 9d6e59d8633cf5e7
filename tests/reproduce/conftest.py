"""A real git repository with a module of ``@tracked_task`` functions, run in its own process."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

MODULE = textwrap.dedent('''
    import random
    from pathlib import Path

    from modeldb_core import log_metric, tracked_task


    @tracked_task(project="repro", outputs=["out_path"])
    def train(data_path: str, out_path: str, scale: float = 2.0, seed: int = 3) -> str:
        rng = random.Random(seed)
        values = [float(x) * scale for x in Path(data_path).read_text().split()]
        total = sum(values) + rng.random()
        Path(out_path).write_text(f"{total:.9f}\\n")
        log_metric("total", total)
        return out_path


    @tracked_task(project="repro", outputs=["out_path"], snapshot_inputs=True)
    def train_snapshotted(data_path: str, out_path: str, scale: float = 2.0) -> str:
        total = sum(float(x) * scale for x in Path(data_path).read_text().split())
        Path(out_path).write_text(f"{total:.9f}\\n")
        log_metric("total", total)
        return out_path


    @tracked_task(project="repro", outputs=["out_path"])
    def stamped(data_path: str, out_path: str) -> str:
        import time

        total = sum(float(x) for x in Path(data_path).read_text().split())
        Path(out_path).write_text(f"{total} written at {time.time()}\\n")
        log_metric("total", total)
        return out_path


    @tracked_task(project="repro", outputs=["out_path"])
    def prepare(data_path: str, out_path: str) -> str:
        values = sorted(float(x) for x in Path(data_path).read_text().split())
        Path(out_path).write_text(" ".join(map(str, values)) + "\\n")
        return out_path


    @tracked_task(project="repro", outputs=["out_path"])
    def fetch(data_path: str, out_path: str, db_uri: str, api_token: str) -> str:
        if "***" in db_uri or "***" in api_token:  # what a database or a service would say
            raise PermissionError("authentication failed")
        total = sum(float(x) for x in Path(data_path).read_text().split())
        Path(out_path).write_text(f"{total} from {db_uri.rsplit('/', 1)[-1]}\\n")
        return out_path


    @tracked_task(project="repro", outputs=["out_path"])
    def unseeded(data_path: str, out_path: str) -> str:
        total = sum(float(x) for x in Path(data_path).read_text().split()) + random.random()
        Path(out_path).write_text(f"{total:.9f}\\n")
        log_metric("total", total)
        return out_path
''')


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


class Project:
    """A git repository holding ``models.py``; ``run(call)`` runs a call of it in a fresh process."""

    def __init__(self, root: Path, uri: str):
        self.root = root
        self.uri = uri

    def run(self, call: str) -> None:
        env = {**os.environ, "MODELDB_URI": self.uri, "PYTHONPATH": str(self.root)}
        done = subprocess.run([sys.executable, "-c", f"import models; models.{call}"], cwd=self.root, env=env,
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr

    def last_run(self, name: str) -> str:
        from modeldb_core.client import get_client

        runs = [r for r in get_client().store.list_runs(project="repro", limit=100) if r.name == name]
        return max(runs, key=lambda r: r.started_at).id


@pytest.fixture
def project(tmp_path, store_uri) -> Project:
    import modeldb_core

    root = tmp_path / "proj"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "dev@example.com")
    git(root, "config", "user.name", "Dev")
    (root / "models.py").write_text(MODULE)
    (root / "data.txt").write_text("1 2 3 4\n")
    (root / ".gitignore").write_text("out/\ndata.txt\n")
    (root / "out").mkdir()
    git(root, "add", "models.py", ".gitignore")
    git(root, "commit", "-q", "-m", "models")
    client = modeldb_core.configure(uri=store_uri)
    yield Project(root, store_uri)
    client.close()


@pytest.fixture
def modeldb():
    """Run ``modeldb ARGS...`` in-process through click; returns (exit code, stdout, stderr)."""
    from click.testing import CliRunner

    from modeldb_core.cli import cli

    def run(*args: str):
        result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
        return result.exit_code, result.stdout, result.stderr

    return run
