"""Reproducing the final task of a real Luigi pipeline (4 tasks) built with luigi.build."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import modeldb_core as mdb

from .conftest import git

FLOW = textwrap.dedent('''
    import json
    import os
    import random

    import luigi


    class Raw(luigi.Task):
        folder = luigi.Parameter()
        seed = luigi.IntParameter(default=5)

        def output(self):
            return luigi.LocalTarget(os.path.join(self.folder, "raw.txt"))

        def run(self):
            rng = random.Random(self.seed)
            with self.output().open("w") as fh:
                fh.write(" ".join(str(rng.randint(0, 100)) for _ in range(50)))


    class Clean(luigi.Task):
        folder = luigi.Parameter()

        def requires(self):
            return Raw(folder=self.folder)

        def output(self):
            return luigi.LocalTarget(os.path.join(self.folder, "clean.txt"))

        def run(self):
            values = [int(v) for v in self.input().open().read().split() if int(v) % 7]
            with self.output().open("w") as fh:
                fh.write(" ".join(map(str, values)))


    class Features(luigi.Task):
        folder = luigi.Parameter()

        def requires(self):
            return Clean(folder=self.folder)

        def output(self):
            return luigi.LocalTarget(os.path.join(self.folder, "features.json"))

        def run(self):
            values = [int(v) for v in self.input().open().read().split()]
            with self.output().open("w") as fh:
                json.dump({"mean": sum(values) / len(values), "n": len(values)}, fh)


    class Model(luigi.Task):
        folder = luigi.Parameter()
        weight = luigi.FloatParameter(default=0.5)

        def requires(self):
            return Features(folder=self.folder)

        def output(self):
            return luigi.LocalTarget(os.path.join(self.folder, "model.json"))

        def run(self):
            features = json.load(self.input().open())
            with self.output().open("w") as fh:
                json.dump({"score": features["mean"] * self.weight}, fh)
''')


def test_reproducing_the_final_task_reruns_only_what_is_gone(tmp_path, sqlite_uri):
    repo = tmp_path / "flow"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "dev@example.com")
    git(repo, "config", "user.name", "Dev")
    (repo / "flow.py").write_text(FLOW)
    git(repo, "add", "flow.py")
    git(repo, "commit", "-q", "-m", "flow")
    data = tmp_path / "data"
    data.mkdir()
    build = ("import flow; from modeldb_core.integrations import luigi as m; "
             f"assert m.build([flow.Model(folder={str(data)!r})], project='flow', local_scheduler=True)")
    env = {**os.environ, "MODELDB_URI": sqlite_uri, "PYTHONPATH": str(repo)}
    done = subprocess.run([sys.executable, "-c", build], cwd=repo, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    model_before = (data / "model.json").read_text()
    os.remove(data / "features.json")  # gone: reproduction must make it again

    client = mdb.configure(uri=sqlite_uri)
    try:
        store = client.store
        final = next(r for r in store.list_runs(project="flow", limit=10) if r.name == "Model")
        plan = mdb.reproduce(final.id, dry_run=True)
        assert plan.kind == "luigi" and plan.entry_point == "flow:Model" and plan.reproducible, plan.blockers
        assert [i.source for i in plan.inputs] == ["upstream"]

        verdict = mdb.reproduce(final.id)
        assert verdict.verdict == "identical", verdict.differences
        assert sorted(t.split("_")[0] for t in verdict.reused) == ["Clean", "Raw"]
        runs = store.list_runs(project="flow", limit=20)
        assert sorted(r.name for r in runs) == ["Clean", "Features", "Features", "Model", "Model", "Raw"]
        assert (data / "model.json").read_text() == model_before
        assert (data / "features.json").exists()
        of, _ = store.reproductions(verdict.reproduction_run_id)
        assert of.original_run_id == final.id and of.verdict == "identical"
    finally:
        client.close()
