"""Local modules a tracked function's module imports that git does not track are kept with
the diff (content-addressed, up to ``untracked_source_max_bytes``) and restored on
reproduction."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import modeldb_core as mdb

from .conftest import git

PIPELINE = textwrap.dedent('''
    from pathlib import Path

    import features
    from helpers_pkg import weights
    from modeldb_core import log_metric, tracked_task


    @tracked_task(project="repro", outputs=["out_path"])
    def weigh(data_path: str, out_path: str) -> str:
        total = sum(features.double(float(x)) * weights.WEIGHT for x in Path(data_path).read_text().split())
        Path(out_path).write_text(f"{total}\\n")
        log_metric("total", total)
        return out_path
''')


def _untracked_modules(root):
    (root / "features.py").write_text("from helpers_pkg.weights import WEIGHT\n\n\ndef double(x):\n"
                                      "    return 2 * x\n")
    (root / "helpers_pkg").mkdir()
    (root / "helpers_pkg" / "__init__.py").write_text("")
    (root / "helpers_pkg" / "weights.py").write_text("WEIGHT = 1.5\n")


def _run(project, **env):
    done = subprocess.run([sys.executable, "-c", "import pipeline; pipeline.weigh('data.txt', 'out/w.txt')"],
                          cwd=project.root, capture_output=True, text=True,
                          env={**os.environ, "MODELDB_URI": project.uri, "PYTHONPATH": str(project.root), **env})
    assert done.returncode == 0, done.stderr
    return project.last_run("weigh")


def test_untracked_modules_the_function_imports_are_restored(project):
    (project.root / "pipeline.py").write_text(PIPELINE)
    git(project.root, "add", "pipeline.py")
    git(project.root, "commit", "-q", "-m", "pipeline")
    _untracked_modules(project.root)
    run_id = _run(project)
    plan = mdb.reproduce(run_id, dry_run=True)
    assert plan.dirty and plan.diff and plan.reproducible, plan.blockers
    # The diff in the artifact store creates each untracked module.
    from modeldb_core.artifact_store import ArtifactStore

    kept = ArtifactStore(mdb.get_client().settings.artifacts).path(plan.diff).read_text()
    assert all(f"b/{name}" in kept for name in ("features.py", "helpers_pkg/__init__.py", "helpers_pkg/weights.py"))
    assert "pipeline.py" not in kept and "models.py" not in kept  # tracked and unchanged: not in it
    for name in ("features.py", "helpers_pkg/weights.py", "helpers_pkg/__init__.py"):
        (project.root / name).unlink()  # gone from the tree: the captured diff brings them back
    verdict = mdb.reproduce(run_id)
    assert verdict.verdict == "identical", (verdict.differences, verdict.error)


def test_the_untracked_source_cap_is_a_setting(project):
    (project.root / "pipeline.py").write_text(PIPELINE)
    git(project.root, "add", "pipeline.py")
    git(project.root, "commit", "-q", "-m", "pipeline")
    _untracked_modules(project.root)
    run_id = _run(project, MODELDB_UNTRACKED_SOURCE_MAX_BYTES="5")  # only helpers_pkg/__init__.py fits (empty)
    plan = mdb.reproduce(run_id, dry_run=True)
    from modeldb_core.artifact_store import ArtifactStore

    kept = ArtifactStore(mdb.get_client().settings.artifacts).path(plan.diff).read_text()
    assert "helpers_pkg/__init__.py" in kept and "features.py" not in kept and "weights.py" not in kept
