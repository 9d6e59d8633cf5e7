"""One lineage graph across orchestrators: an Airflow task writes a file, a Luigi
build reads it; walking up from the Luigi run reaches the Airflow run."""
from __future__ import annotations

import os
from pathlib import Path

from airflow.sdk import dag, task

from modeldb_core.integrations import luigi as mdb_luigi
from tests.airflow.revenue import Revenue

EXPORT = Path(os.environ["AIRFLOW_HOME"]) / "data" / "orders.csv"


@dag(dag_id="mdb_orders_export", schedule=None)
def orders_export():
    @task
    def export_orders() -> str:
        EXPORT.parent.mkdir(parents=True, exist_ok=True)
        EXPORT.write_text("order,amount\n1,20.5\n2,7.25\n3,12.0\n")
        return str(EXPORT)

    export_orders()


EXPORT_DAG = orders_export()


def test_an_airflow_export_is_the_input_of_a_luigi_task(airflow_tracking, run_dag, tmp_path):
    assert run_dag(EXPORT_DAG).state == "success"
    assert mdb_luigi.build([Revenue(source=str(EXPORT), folder=str(tmp_path))], local_scheduler=True, log_level="WARNING")

    store = airflow_tracking.store
    runs = {r.name: r for r in store.list_runs(limit=10)}
    assert (runs["export_orders"].orchestrator, runs["Revenue"].orchestrator) == ("airflow", "luigi")
    [written] = store.get_run_detail(runs["export_orders"].id).outputs
    [read] = store.get_run_detail(runs["Revenue"].id).inputs
    assert read.name == "Orders" and read.artifact.id == written.artifact.id   # one node: same file, same content

    graph = store.lineage(f"run:{runs['Revenue'].id}", direction="up", depth=4)
    assert f"run:{runs['export_orders'].id}" in {f"{n.kind}:{n.id}" for n in graph.nodes}
