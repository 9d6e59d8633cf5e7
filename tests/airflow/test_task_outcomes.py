"""Failures, retries, mapped tasks, other operators, and which DAGs are tracked."""
from __future__ import annotations

import datetime

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import dag, task


@dag(dag_id="mdb_failing", schedule=None)
def failing():
    @task
    def load_rows() -> list:
        return [1, 2, 3]

    @task
    def explode(rows: list) -> int:
        raise ValueError(f"cannot handle {len(rows)} rows")

    explode(load_rows())


@dag(dag_id="mdb_retrying", schedule=None)
def retrying():
    @task(retries=2, retry_delay=datetime.timedelta(0))
    def flaky_fetch(**context) -> str:
        if context["ti"].try_number < 2:
            raise ConnectionError("upstream not ready")
        return "fetched"

    flaky_fetch()


@dag(dag_id="mdb_mapped", schedule=None)
def mapped():
    @task
    def shards() -> list:
        return [1, 2, 3]

    @task(params={"modeldb_phase": "monitoring"})
    def check_shard(shard: int) -> int:
        return shard * 10

    check_shard.expand(shard=shards())


@dag(dag_id="mdb_tagged", schedule=None, tags=["modeldb", "phase:deployment"], params={"env": "prod"})
def tagged():
    BashOperator(task_id="publish", bash_command="echo publishing to {{ params.env }}")


@dag(dag_id="mdb_untagged", schedule=None)
def untagged():
    @task
    def anything() -> int:
        return 1

    anything()


@dag(dag_id="mdb_skipping", schedule=None)
def skipping():
    @task
    def maybe_deploy() -> None:
        from airflow.sdk.exceptions import AirflowSkipException

        raise AirflowSkipException("nothing new to deploy")

    maybe_deploy()


FAILING, RETRYING, MAPPED, TAGGED, UNTAGGED = failing(), retrying(), mapped(), tagged(), untagged()
SKIPPING = skipping()


def test_a_failing_task_is_a_failed_run_with_its_error_and_the_dag_run_fails(airflow_tracking, run_dag):
    dr = run_dag(FAILING)
    assert dr.state == "failed"                           # Airflow's own outcome is untouched
    store = airflow_tracking.store
    runs = {r.name: r for r in store.list_runs(limit=10)}
    assert runs["load_rows"].status == "succeeded"
    failed = store.get_run_detail(runs["explode"].id)
    assert failed.run.status == "failed"
    assert failed.run.error_type == "ValueError"
    assert failed.run.error_message == "cannot handle 3 rows"
    assert failed.tags["airflow.will_retry"] == "false"
    assert failed.outputs == []
    # The list one task returned is the list the next one received: one lineage node.
    loaded = store.get_run_detail(runs["load_rows"].id)
    assert failed.inputs[0].artifact.id == loaded.outputs[0].artifact.id

    [(prun, _)] = store.pipeline_runs(ids=[failed.run.pipeline_run_id])
    assert prun.status == "failed"


def test_each_try_is_its_own_run_and_a_retried_failure_is_not_final(airflow_tracking, run_dag):
    dr = run_dag(RETRYING)
    assert dr.state == "success"
    store = airflow_tracking.store
    tries = sorted(store.list_runs(limit=10), key=lambda r: r.try_number)
    assert [r.try_number for r in tries] == [1, 2]
    assert {r.external_id for r in tries} == {f"mdb_retrying/{dr.run_id}/flaky_fetch"}
    first, second = (store.get_run_detail(r.id) for r in tries)
    assert first.run.status == "failed"
    assert first.run.error_type == "ConnectionError"
    assert first.tags["airflow.will_retry"] == "true"
    assert first.tags["airflow.state"] == "up_for_retry"
    assert second.run.status == "succeeded"
    assert second.outputs[0].name == "return"


def test_every_map_index_is_its_own_run(airflow_tracking, run_dag):
    dr = run_dag(MAPPED)
    assert dr.state == "success"
    store = airflow_tracking.store
    runs = [r for r in store.list_runs(limit=20) if r.name == "check_shard"]
    assert sorted(r.external_id for r in runs) == [
        f"mdb_mapped/{dr.run_id}/check_shard[{i}]" for i in range(3)]
    details = sorted((store.get_run_detail(r.id) for r in runs), key=lambda d: d.params["shard"])
    assert [d.params["shard"] for d in details] == [1, 2, 3]
    assert [d.tags["airflow.map_index"] for d in details] == ["0", "1", "2"]
    assert {d.run.phase for d in details} == {"monitoring"}        # the modeldb_phase param
    assert len({d.outputs[0].artifact.content_hash for d in details}) == 3
    # Each map index read the whole list the upstream task returned: one lineage node.
    [shards] = [r for r in store.list_runs(limit=20) if r.name == "shards"]
    produced = store.get_run_detail(shards.id).outputs[0].artifact
    assert [[(i.name, i.artifact.id) for i in d.inputs] for d in details] == [[("shard", produced.id)]] * 3


def test_only_tagged_dags_are_tracked_when_so_configured(airflow_tracking, run_dag, monkeypatch):
    monkeypatch.setenv("AIRFLOW__MODELDB__TRACK", "tagged")
    assert run_dag(UNTAGGED).state == "success"
    assert run_dag(TAGGED).state == "success"
    store = airflow_tracking.store
    runs = store.list_runs(limit=10)
    assert [r.name for r in runs] == ["publish"]
    publish = store.get_run_detail(runs[0].id)
    assert publish.run.phase == "deployment"                      # the DAG tag phase:deployment
    assert publish.params["bash_command"] == "echo publishing to prod"   # a rendered templated field
    assert publish.params["params.env"] == "prod"
    assert publish.tags["airflow.operator"] == "BashOperator"


def test_a_task_that_skips_itself_is_a_skipped_run(airflow_tracking, run_dag):
    dr = run_dag(SKIPPING)
    assert {ti.task_id: ti.state for ti in dr.get_task_instances()} == {"maybe_deploy": "skipped"}
    [run] = airflow_tracking.store.list_runs(limit=5)
    assert (run.name, run.status, run.phase) == ("maybe_deploy", "skipped", "deployment")


@dag(dag_id="mdb_branching", schedule=None)
def branching():
    """As Airflow's own branch and short-circuit examples write it."""
    @task.branch
    def choose_model() -> str:
        return "train_forest"

    @task
    def train_forest() -> str:
        return "forest"

    @task
    def train_linear() -> str:
        return "linear"

    @task(trigger_rule="none_failed_min_one_success")
    def join() -> str:
        return "joined"

    @task.short_circuit
    def is_monday() -> bool:
        return False

    @task
    def publish_report() -> None:
        return None

    chosen = choose_model()
    chosen >> [train_forest(), train_linear()] >> join()
    is_monday() >> publish_report()


@dag(dag_id="mdb_upstream_failing", schedule=None)
def upstream_failing():
    @task
    def extract() -> None:
        raise RuntimeError("source down")

    @task
    def load() -> None:
        return None

    extract() >> load()


BRANCHING, UPSTREAM_FAILING = branching(), upstream_failing()


def test_task_instances_that_never_ran_are_runs_in_their_state(airflow_tracking, run_dag):
    dr = run_dag(BRANCHING)
    assert dr.state == "success"
    store = airflow_tracking.store
    runs = {r.name: r for r in store.list_runs(limit=20)}
    assert set(runs) == {"choose_model", "train_forest", "train_linear", "join", "is_monday", "publish_report"}
    assert runs["train_forest"].status == runs["join"].status == "succeeded"
    for name in ("train_linear", "publish_report"):  # skipped by the branch, by the short-circuit
        detail = store.get_run_detail(runs[name].id)
        assert detail.run.status == "skipped" and detail.tags["airflow.state"] == "skipped"
        assert detail.run.pipeline_run_id == runs["train_forest"].pipeline_run_id
        assert detail.run.external_id == f"mdb_branching/{dr.run_id}/{name}"
    assert runs["train_linear"].phase == "training"  # the one phase rule: the task id's words

    dr = run_dag(UPSTREAM_FAILING)
    assert dr.state == "failed"
    store = airflow_tracking.store  # as a script reads: after what this process journaled is written
    runs = {r.name: r for r in store.list_runs(limit=20) if r.external_id.startswith("mdb_upstream_failing/")}
    assert runs["extract"].status == "failed"
    load = store.get_run_detail(runs["load"].id)
    assert load.run.status == "skipped" and load.tags["airflow.state"] == "upstream_failed"



@dag(dag_id="mdb_fails_before_running", schedule=None)
def fails_before_running():
    BashOperator(task_id="render_fails", bash_command="echo {{ no_such_value }}")


FAILS_BEFORE_RUNNING = fails_before_running()


def test_a_task_that_fails_before_its_code_runs_is_a_failed_run_naming_the_error(airflow_tracking, run_dag):
    dr = run_dag(FAILS_BEFORE_RUNNING)
    assert dr.state == "failed"
    store = airflow_tracking.store
    [run] = [r for r in store.list_runs(limit=10) if r.name == "render_fails"]
    detail = store.get_run_detail(run.id)
    assert run.status == "failed"
    assert run.error_type == "jinja2.exceptions.UndefinedError" and "no_such_value" in run.error_message
    assert detail.tags["airflow.operator"] == "BashOperator" and detail.tags["airflow.will_retry"] == "false"
    [(prun, _)] = store.pipeline_runs(ids=[run.pipeline_run_id])
    assert prun.status == "failed"
