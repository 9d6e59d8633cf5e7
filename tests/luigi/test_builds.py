"""Builds as pipeline runs, forked workers, and the events that end a run abnormally."""
from __future__ import annotations

import os
import time

import luigi
import pytest

from modeldb_core.integrations import luigi as mdb_luigi

BUILD = {"local_scheduler": True, "no_lock": True, "log_level": "WARNING"}

try:  # forked workers inherit it instead of each importing it (seconds each)
    import sklearn.linear_model  # noqa: F401
except ImportError:
    pass


def pipeline_runs(client) -> list[dict]:
    return [{**vars(run), "name": pipeline.name, "structure": pipeline.structure,
             "orchestrator": pipeline.orchestrator} for run, pipeline in client.store.pipeline_runs()]


def test_workers_3_every_run_lands_from_forked_processes(luigi_tracking, pipeline, folder, by_name):
    assert luigi.build([pipeline.Report(folder=folder)], workers=3, **BUILD) is True

    runs = by_name(luigi_tracking)
    assert {n: len(v) for n, v in runs.items()} == {
        "RawData": 1, "CleanData": 1, "Features": 1, "TrainModel": 3, "Report": 1}
    every = [r for v in runs.values() for r in v]
    assert all(r.status == "succeeded" for r in every)
    pids = {r.pid for r in every}
    assert os.getpid() not in pids and len(pids) == 7       # each task ran in its own child
    assert len({r.pipeline_run_id for r in every}) == 1
    store = luigi_tracking.store
    trains = [store.get_run_detail(r.id) for r in runs["TrainModel"]]
    assert sorted(d.params["C"] for d in trains) == [0.1, 1.0, 10.0]
    assert all("accuracy" in d.metrics and len(d.outputs) == 1 for d in trains)
    # The report's lineage reaches the raw data through all three models.
    report = runs["Report"][0].id
    keys = {f"{n.kind}:{n.id}" for n in store.lineage(f"run:{report}", direction="up", depth=10).nodes}
    assert {f"run:{r.id}" for r in every} <= keys

    [prun] = pipeline_runs(luigi_tracking)
    assert prun["status"] == "succeeded" and prun["orchestrator"] == "luigi"
    assert prun["name"] == "Report" and prun["external_id"].startswith("Worker(")


def test_plain_build_is_one_pipeline_run_with_the_root_structure(luigi_tracking, pipeline, folder):
    assert luigi.build([pipeline.TrainModel(folder=folder)], **BUILD)
    assert luigi.build([pipeline.TrainModel(folder=folder, C=2.0, fail=True)], **BUILD) is False
    assert luigi.build([pipeline.TrainModel(folder=folder)], **BUILD)   # complete: nothing to do

    first, failed, noop = pipeline_runs(luigi_tracking)
    structure = first["structure"]
    assert structure["tasks"] == ["CleanData", "Features", "RawData", "TrainModel"]
    assert structure["edges"] == [["CleanData", "Features"], ["Features", "TrainModel"],
                                  ["RawData", "CleanData"]]
    assert first["name"] == "TrainModel" and first["status"] == "succeeded"
    assert first["pipeline_id"] == failed["pipeline_id"]            # same structure, same version
    assert failed["status"] == "failed"
    assert noop["status"] == "succeeded"
    assert first["started_at"] <= first["ended_at"]


def test_build_wrapper_groups_exactly_and_returns_what_luigi_returns(tracking, pipeline, folder, by_name):
    mdb_luigi.untrack()
    try:
        result = mdb_luigi.build([pipeline.TrainModel(folder=folder, C=0.1), pipeline.CleanData(folder=folder, seed=8)],
                                 project="churn", pipeline="nightly", workers=2, **BUILD)
        assert result is True
        detailed = mdb_luigi.build([pipeline.TrainModel(folder=folder, C=5.0, fail=True)], project="churn",
                                   detailed_summary=True, **BUILD)
        assert detailed.scheduling_succeeded is False
        assert detailed.status.name == "FAILED"
    finally:
        mdb_luigi.untrack()

    nightly, failed = pipeline_runs(tracking)
    assert nightly["name"] == "nightly" and nightly["status"] == "succeeded"
    assert failed["name"] == "TrainModel" and failed["status"] == "failed"
    runs = by_name(tracking, project="churn")
    assert sorted(runs) == ["CleanData", "Features", "RawData", "TrainModel"]
    assert len(runs["CleanData"]) == 2 and len(runs["RawData"]) == 2      # seeds 7 and 8
    assert {r.pipeline_run_id for v in runs.values() for r in v} == {nightly["id"], failed["id"]}
    assert [r.status for r in runs["TrainModel"]] == ["succeeded", "failed"]


def test_config_switch_turns_tracking_on_without_code(tracking, pipeline, folder, by_name):
    from luigi.configuration import get_config

    mdb_luigi.untrack()
    config = get_config()
    if not config.has_section("worker"):
        config.add_section("worker")
    config.set("worker", "task_process_context", "modeldb_core.integrations.luigi.TrackingContext")
    try:
        assert luigi.build([pipeline.CleanData(folder=folder)], **BUILD)
    finally:
        config.remove_option("worker", "task_process_context")
        mdb_luigi.untrack()
    runs = by_name(tracking)
    assert [r.status for r in runs["RawData"] + runs["CleanData"]] == ["succeeded", "succeeded"]
    assert runs["RawData"][0].pipeline_run_id == runs["CleanData"][0].pipeline_run_id


class Sleepy(luigi.Task):
    folder = luigi.Parameter()
    worker_timeout = 0.5

    def output(self):
        return luigi.LocalTarget(os.path.join(self.folder, "never.txt"))

    def run(self):
        time.sleep(30)


class Crash(luigi.Task):
    folder = luigi.Parameter()

    def output(self):
        return luigi.LocalTarget(os.path.join(self.folder, "crash.txt"))

    def run(self):
        os._exit(3)


def test_timeout_and_dead_worker_end_the_run_failed(luigi_tracking, folder, by_name):
    started = time.time()
    assert luigi.build([Sleepy(folder=folder)], **BUILD) is False
    assert luigi.build([Crash(folder=folder)], workers=2, **BUILD) is False
    assert time.time() - started < 20

    store = luigi_tracking.store
    sleepy = store.get_run_detail(by_name(luigi_tracking)["Sleepy"][0].id)
    assert sleepy.run.status == "failed" and sleepy.run.error_type.endswith(".TaskTimeout")
    assert "timed out" in sleepy.run.error_message
    crash = store.get_run_detail(by_name(luigi_tracking)["Crash"][0].id)
    assert crash.run.status == "failed" and crash.run.error_type.endswith(".WorkerDied")
    assert "exit code 3" in crash.run.error_message
    assert [p["status"] for p in pipeline_runs(luigi_tracking)] == ["failed", "failed"]


class Broken(luigi.Task):
    def requires(self):
        raise RuntimeError("cannot reach the warehouse")


def test_untracked_tasks_and_broken_tasks(luigi_tracking, pipeline, folder, by_name):
    class Quiet(luigi.Task):
        modeldb_track = False
        folder = luigi.Parameter()

        def output(self):
            return luigi.LocalTarget(os.path.join(self.folder, "quiet.txt"))

        def run(self):
            with self.output().open("w") as fh:
                fh.write("x")

    assert luigi.build([Quiet(folder=folder)], **BUILD)
    assert luigi.build([Broken()], **BUILD) is False
    runs = by_name(luigi_tracking)
    assert "Quiet" not in runs
    [broken] = runs["Broken"]
    assert broken.status == "failed"
    detail = luigi_tracking.store.get_run_detail(broken.id)
    assert detail.tags["luigi.event"] == "broken_task"
    assert detail.run.error_message == "cannot reach the warehouse"


class LongTask(luigi.Task):
    """Looks itself up in the store while it runs (without asking for its run's id)."""

    folder = luigi.Parameter()

    def output(self):
        return luigi.LocalTarget(os.path.join(self.folder, "long.txt"))

    def run(self):
        import modeldb_core

        store = modeldb_core.get_client().store
        seen = []
        for _ in range(30):
            seen = [r.status for r in store.list_runs(limit=20) if r.external_id == self.task_id]
            if seen:
                break
            time.sleep(0.1)
        with self.output().open("w") as fh:
            fh.write(",".join(seen))


def test_a_long_task_shows_as_running_while_it_runs(luigi_tracking, folder, by_name):
    assert luigi.build([LongTask(folder=folder)], **BUILD)
    with open(os.path.join(folder, "long.txt")) as fh:
        assert fh.read() == "running"              # in the store as soon as it started
    [run] = by_name(luigi_tracking)["LongTask"]
    assert run.status == "succeeded"


class Branch(luigi.Task):
    folder = luigi.Parameter()
    name = luigi.Parameter()
    fail = luigi.BoolParameter(default=False)

    @property
    def priority(self):  # the failing branch runs first
        return 10 if self.fail else 1

    def output(self):
        return luigi.LocalTarget(os.path.join(self.folder, f"{self.name}.txt"))

    def run(self):
        if self.fail:
            raise RuntimeError(f"branch {self.name} broke")
        with self.output().open("w") as fh:
            fh.write(self.name)


class Join(luigi.Task):
    folder = luigi.Parameter()

    def requires(self):
        return [Branch(folder=self.folder, name="bad", fail=True), Branch(folder=self.folder, name="good")]

    def output(self):
        return luigi.LocalTarget(os.path.join(self.folder, "joined.txt"))


def test_runs_that_succeed_after_a_build_failed_still_land(luigi_tracking, folder, by_name):
    import modeldb_core

    assert luigi.build([Join(folder=folder)], **BUILD) is False
    modeldb_core.flush()  # the build was decided at the failure; later quick runs wait for a batch

    runs = by_name(luigi_tracking)
    [bad, good] = sorted(runs["Branch"], key=lambda r: r.started_at)
    assert bad.status == "failed" and "branch bad broke" in bad.error_message
    assert good.status == "succeeded" and good.started_at >= bad.ended_at
    [output] = luigi_tracking.store.get_run_detail(good.id).outputs
    assert output.artifact.uri.endswith("good.txt")
    assert "Join" not in runs
    [prun] = pipeline_runs(luigi_tracking)
    assert prun["status"] == "failed" and good.pipeline_run_id == prun["id"]


class Flaky(luigi.Task):
    """Fails its first two tries; Luigi retries it (retry_count) in the same build."""

    folder = luigi.Parameter()
    retry_count = 3

    def output(self):
        return luigi.LocalTarget(os.path.join(self.folder, "flaky.txt"))

    def run(self):
        tries = os.path.join(self.folder, "tries")
        done = int(open(tries).read()) if os.path.exists(tries) else 0
        with open(tries, "w") as fh:
            fh.write(str(done + 1))
        if done < 2:
            raise RuntimeError(f"flaky, try {done + 1}")
        with self.output().open("w") as fh:
            fh.write("ok")


@pytest.fixture
def quick_retries():
    """Luigi's retry settings for one test: retry at once, and keep the worker waiting for retries."""
    config = luigi.configuration.get_config()
    settings = {("scheduler", "retry_delay"): "0.05", ("worker", "keep_alive"): "true",
                ("worker", "wait_interval"): "0.05"}
    for (section, option), value in settings.items():
        if not config.has_section(section):
            config.add_section(section)
        config.set(section, option, value)
    yield
    for section, option in settings:
        config.remove_option(section, option)


@pytest.mark.parametrize("workers", [1, 2])
def test_each_try_of_a_retried_task_is_a_run_with_its_try_number(luigi_tracking, folder, by_name, quick_retries,
                                                                 workers):
    from luigi.execution_summary import LuigiStatusCode

    result = luigi.build([Flaky(folder=folder)], workers=workers, detailed_summary=True, **BUILD)
    assert result.status == LuigiStatusCode.SUCCESS_WITH_RETRY

    tries = by_name(luigi_tracking)["Flaky"]
    assert [(r.status, r.try_number) for r in tries] == [("failed", 1), ("failed", 2), ("succeeded", 3)]
    assert [r.error_message for r in tries[:2]] == ["flaky, try 1", "flaky, try 2"]
    assert len({r.external_id for r in tries}) == 1 and len({r.pipeline_run_id for r in tries}) == 1
    [prun] = pipeline_runs(luigi_tracking)
    assert prun["status"] == "succeeded", "a task retried until it succeeded does not fail the build"
