"""Dynamic dependencies: what run() yields is an input, and a suspended task is one run."""
from __future__ import annotations

import os
import time

import luigi
import pytest

import modeldb_core

BUILD = {"local_scheduler": True, "no_lock": True, "log_level": "WARNING"}


class Shard(luigi.Task):
    folder = luigi.Parameter()
    index = luigi.IntParameter()

    def output(self):
        return luigi.LocalTarget(os.path.join(self.folder, f"shard-{self.index}.csv"))

    def run(self):
        with self.output().open("w") as fh:
            fh.write(f"x\n{self.index}\n")


class Merge(luigi.Task):
    """Finds out at run time which shards it needs, and yields them."""

    folder = luigi.Parameter()
    shards = luigi.IntParameter(default=3)
    fail_after = luigi.BoolParameter(default=False)
    pause = luigi.FloatParameter(default=0.0)

    def output(self):
        return luigi.LocalTarget(os.path.join(self.folder, "merged.csv"))

    def run(self):
        modeldb_core.log_metric("planned_shards", float(self.shards))
        time.sleep(self.pause)
        parts = yield [Shard(folder=self.folder, index=i) for i in range(self.shards)]
        extra = yield {"last": Shard(folder=self.folder, index=99)}
        if self.fail_after:
            raise ValueError("merge refused the shards")
        rows = [p.open().read().splitlines()[1] for p in [*parts, extra["last"]]]
        with self.output().open("w") as fh:
            fh.write("x\n" + "\n".join(rows) + "\n")


def _lineage_runs(client, run_id):
    nodes = client.store.lineage(f"run:{run_id}", direction="up", depth=4).nodes
    return {n.id for n in nodes if n.kind == "run"}


@pytest.mark.parametrize("workers", [1, 2])
def test_yielded_requirements_are_inputs_and_a_suspended_task_is_one_run(luigi_tracking, folder, by_name,
                                                                        workers):
    root = Merge(folder=folder)
    assert luigi.build([root], workers=workers, **BUILD) is True

    runs = by_name(luigi_tracking)
    assert {name: len(found) for name, found in runs.items()} == {"Shard": 4, "Merge": 1}
    [merge] = runs["Merge"]
    assert merge.status == "succeeded"
    detail = luigi_tracking.store.get_run_detail(merge.id)
    assert sorted(i.name for i in detail.inputs) == ["Shard[0]", "Shard[1]", "Shard[2]", "last"]
    assert {os.path.basename(i.artifact.uri) for i in detail.inputs} == {
        "shard-0.csv", "shard-1.csv", "shard-2.csv", "shard-99.csv"}
    # Merge ran three times (suspended twice), all in its one run: each execution's point is kept.
    assert detail.metrics["planned_shards"] == 3.0
    assert len(detail.metric_history["planned_shards"]) == 3
    assert sum("suspended" in n.text for n in detail.notes) == 2
    # Lineage walks from the merge up through the shards' files to the shard runs.
    assert {r.id for r in runs["Shard"]} <= _lineage_runs(luigi_tracking, merge.id)
    assert "run" not in vars(root), "the task instance gets its own run() back"


def test_a_suspended_long_execution_is_continued_not_duplicated(luigi_tracking, folder, by_name):
    assert luigi.build([Merge(folder=folder, shards=1, pause=0.6)], workers=1, **BUILD) is True

    [merge] = by_name(luigi_tracking)["Merge"]
    assert merge.status == "succeeded"
    detail = luigi_tracking.store.get_run_detail(merge.id)
    assert "yielded dependencies that were not complete" in detail.notes[0].text
    assert [i.name for i in detail.inputs] == ["Shard[0]", "last"]
    assert merge.ended_at - merge.started_at >= 1.2  # from the first execution to the last


def test_a_task_failing_after_its_dynamic_dependencies_keeps_them_as_inputs(luigi_tracking, folder, by_name):
    assert luigi.build([Merge(folder=folder, shards=2, fail_after=True)], workers=1, **BUILD) is False

    runs = by_name(luigi_tracking)
    [merge] = runs["Merge"]
    assert merge.status == "failed" and merge.error_message == "merge refused the shards"
    detail = luigi_tracking.store.get_run_detail(merge.id)
    assert sorted(i.name for i in detail.inputs) == ["Shard[0]", "Shard[1]", "last"]
    assert [r.status for r in runs["Shard"]] == ["succeeded"] * 3
