"""Targets that are not local files, the optional mixin, PROGRESS, and the event-less phase default."""
from __future__ import annotations

import os

import luigi
from luigi.mock import MockTarget

from modeldb_core.integrations import luigi as mdb_luigi
from modeldb_core.integrations.luigi import targets

BUILD = {"local_scheduler": True, "no_lock": True, "log_level": "WARNING"}


class Extract(luigi.Task):
    key = luigi.Parameter()
    settings = luigi.DictParameter(default={"limit": 5, "cols": ["a", "b"]})

    def output(self):
        return MockTarget(f"/warehouse/{self.key}.csv")

    def run(self):
        with self.output().open("w") as fh:
            fh.write("a,b\n1,2\n")


class Load(mdb_luigi.TrackedTask, luigi.Task):
    key = luigi.Parameter()
    folder = luigi.Parameter()
    modeldb_phase = "deployment"
    modeldb_project = "warehouse"

    def requires(self):
        return [Extract(key=self.key)]

    def output(self):
        return {"table": luigi.LocalTarget(os.path.join(self.folder, "table.csv")),
                "copies": [luigi.LocalTarget(os.path.join(self.folder, f"copy-{i}.csv")) for i in range(2)]}

    def run(self):
        with self.input()[0].open("r") as fh:
            text = fh.read()
        for i, target in enumerate(luigi.task.flatten(self.output())):
            with target.open("w") as out:
                out.write(text)
            self.trigger_event(luigi.Event.PROGRESS, self, {"written": i + 1, "note": "not a number"})
        self.modeldb_run.log_metric("rows", 1)


def test_mock_targets_by_uri_nested_outputs_mixin_and_progress(luigi_tracking, folder, by_name):
    from luigi.mock import MockFileSystem

    MockFileSystem().clear()  # an in-memory file system shared by the whole process
    assert luigi.build([Load(key="orders", folder=folder)], **BUILD)

    # Extract declares no project: it takes the build's, which is the root's (Load's).
    assert by_name(luigi_tracking) == {}
    extract = by_name(luigi_tracking, project="warehouse")["Extract"][0]
    detail = luigi_tracking.store.get_run_detail(extract.id)
    assert detail.params == {"key": "orders", "settings": {"limit": 5, "cols": ["a", "b"]}}
    assert detail.run.phase == "data_prep"                 # no phase given: the words of its name
    [out] = detail.outputs
    assert out.artifact.uri == "mock:///warehouse/orders.csv"
    assert out.artifact.kind == "MockTarget"
    assert out.artifact.fingerprint_method == "uri-only"
    assert out.artifact.metadata["target"] == "luigi.mock.MockTarget"

    load = by_name(luigi_tracking, project="warehouse")["Load"][0]
    detail = luigi_tracking.store.get_run_detail(load.id)
    assert detail.run.phase == "deployment"
    assert [(i.name, i.artifact.uri) for i in detail.inputs] == [("Extract[0]", "mock:///warehouse/orders.csv")]
    assert sorted(o.name for o in detail.outputs) == ["copies[0]", "copies[1]", "table"]
    assert detail.metrics["written"] == 3 and detail.metrics["rows"] == 1
    assert [m.value for m in detail.metric_history["written"]] == [1, 2, 3]
    # Extract's output and Load's input are one lineage node.
    up = luigi_tracking.store.lineage(f"run:{load.id}", direction="up", depth=2)
    assert f"run:{extract.id}" in {f"{n.kind}:{n.id}" for n in up.nodes}


def test_target_uris_never_hold_a_repr():
    class Table(luigi.Target):
        def __init__(self):
            self.host, self.database, self.table, self.password = "db.internal", "sales", "orders", "hunter2"

        def exists(self):
            return False

    class Opaque(luigi.Target):
        password = "hunter2"

        def exists(self):
            return True

        def __repr__(self):
            return f"Opaque(password={self.password})"

    assert targets.uri_of(Table()) == "table://db.internal/sales/orders"
    opaque = targets.uri_of(Opaque())
    assert opaque.startswith("opaque://") and "hunter2" not in opaque
    assert targets.uri_of(MockTarget("s3://bucket/key")) == "s3://bucket/key"


class Part(luigi.Task):
    folder = luigi.Parameter()
    index = luigi.IntParameter()

    def output(self):
        return luigi.LocalTarget(os.path.join(self.folder, f"part-{self.index}.txt"))

    def run(self):
        with self.output().open("w") as fh:
            fh.write("same" if self.index < 2 else f"part {self.index}")  # two parts share content


class Gather(luigi.Task):
    folder = luigi.Parameter()

    def requires(self):
        return {"parts": [Part(folder=self.folder, index=i) for i in range(7)]}

    def output(self):
        return luigi.LocalTarget(os.path.join(self.folder, "all.txt"))

    def run(self):
        with self.output().open("w") as fh:
            for target in self.input()["parts"]:
                with target.open("r") as part:
                    fh.write(part.read() + "\n")


def test_a_wide_fan_in_records_every_input_edge(luigi_tracking, folder, by_name):
    assert luigi.build([Gather(folder=folder)], **BUILD)
    runs = by_name(luigi_tracking)
    gather = luigi_tracking.store.get_run_detail(runs["Gather"][0].id)
    assert sorted((i.name, i.artifact.uri) for i in gather.inputs) == sorted(
        (f"parts[{i}]", "file://" + os.path.join(folder, f"part-{i}.txt")) for i in range(7))
    parts = {luigi_tracking.store.get_run_detail(r.id).outputs[0].artifact.id: r.id for r in runs["Part"]}
    assert {i.artifact.id for i in gather.inputs} == set(parts)
    same = [i.artifact for i in gather.inputs if i.name in ("parts[0]", "parts[1]")]
    assert same[0].content_hash == same[1].content_hash and same[0].id != same[1].id  # two files, one content
    up = luigi_tracking.store.lineage(f"run:{gather.run.id}", direction="up", depth=2)
    assert {n.id for n in up.nodes if n.kind == "run"} == {gather.run.id, *parts.values()}


def test_tracked_functions_inside_a_task_nest_under_its_run(luigi_tracking, folder, by_name):
    import modeldb_core

    @modeldb_core.tracked_task(name="score", phase="evaluation")
    def score(threshold):
        modeldb_core.log_metric("score", threshold * 2)
        return threshold

    class Scored(luigi.Task):
        folder = luigi.Parameter()

        def output(self):
            return luigi.LocalTarget(os.path.join(self.folder, "scored.txt"))

        def run(self):
            score(0.25)
            with self.output().open("w") as fh:
                fh.write("ok")

    assert luigi.build([Scored(folder=folder)], **BUILD)
    runs = by_name(luigi_tracking)
    [outer], [inner] = runs["Scored"], runs["score"]
    assert inner.parent_run_id == outer.id
    assert inner.pipeline_run_id == outer.pipeline_run_id
    assert outer.status == inner.status == "succeeded"
    assert luigi_tracking.store.get_run_detail(outer.id).children == [inner.id]
