"""TaskFlow as Airflow's own example DAGs write it: ``multiple_outputs``, map/reduce, a map
over a map. Each value a task hands over joins its consumer to its producer in lineage."""
from __future__ import annotations

import json

from airflow.sdk import dag, task


@dag(dag_id="mdb_tutorial_taskflow", schedule=None)
def tutorial_taskflow():
    @task
    def extract() -> dict:
        return json.loads('{"1001": 301.27, "1002": 433.21, "1003": 502.22}')

    @task(multiple_outputs=True)
    def transform(order_data_dict: dict) -> dict:
        return {"total_order_value": sum(order_data_dict.values()), "orders": len(order_data_dict)}

    @task
    def load(total_order_value: float) -> None:
        print(f"Total order value is: {total_order_value:.2f}")

    order_summary = transform(extract())
    load(order_summary["total_order_value"])


@dag(dag_id="mdb_map_reduce", schedule=None)
def map_reduce():
    @task
    def add_one(x: int) -> int:
        return x + 1

    @task
    def add_ten(x: int) -> int:
        return x + 10

    @task
    def sum_it(values) -> int:
        return sum(values)

    sum_it(add_ten.expand(x=add_one.expand(x=[1, 2, 3])))


TUTORIAL, MAP_REDUCE = tutorial_taskflow(), map_reduce()


def _io(store, run) -> tuple[dict, dict]:
    detail = store.get_run_detail(run.id)
    return ({io.name: (io.artifact.uri, io.artifact.content_hash) for io in detail.inputs},
            {io.name: (io.artifact.uri, io.artifact.content_hash) for io in detail.outputs})


def test_a_key_of_multiple_outputs_read_downstream_links_the_two_tasks(airflow_tracking, run_dag):
    assert run_dag(TUTORIAL).state == "success"
    store = airflow_tracking.store
    runs = {r.name: r for r in store.list_runs(limit=10)}
    _, transform_out = _io(store, runs["transform"])
    load_in, _ = _io(store, runs["load"])
    assert load_in["total_order_value"] == transform_out["return.total_order_value"]
    assert store.get_run_detail(runs["load"].id).params["total_order_value"] == 1236.7
    lineage = store.lineage(f"run:{runs['load'].id}", direction="up")
    assert runs["transform"].id in {node.id for node in lineage.nodes}
    assert runs["extract"].id in {node.id for node in lineage.nodes}


def test_a_reduce_after_a_map_and_a_map_over_a_map_read_each_mapped_try(airflow_tracking, run_dag):
    assert run_dag(MAP_REDUCE).state == "success"
    store = airflow_tracking.store
    runs = store.list_runs(limit=20)
    by_id = {r.external_id.split("/", 2)[2]: r for r in runs}
    assert sorted(by_id) == ["add_one[0]", "add_one[1]", "add_one[2]",
                             "add_ten[0]", "add_ten[1]", "add_ten[2]", "sum_it"]
    for i in range(3):  # the map over a map: try i of add_ten read try i of add_one
        add_ten_in, _ = _io(store, by_id[f"add_ten[{i}]"])
        assert add_ten_in == {"x": _io(store, by_id[f"add_one[{i}]"])[1]["return"]}
    sum_in, sum_out = _io(store, by_id["sum_it"])
    assert sum_in == {f"values[{i}]": _io(store, by_id[f"add_ten[{i}]"])[1]["return"] for i in range(3)}
    assert store.get_run_detail(by_id["sum_it"].id).params["values"] == [12, 13, 14]
    lineage = store.lineage(f"run:{by_id['sum_it'].id}", direction="up")
    assert {by_id[f"add_one[{i}]"].id for i in range(3)} <= {node.id for node in lineage.nodes}
