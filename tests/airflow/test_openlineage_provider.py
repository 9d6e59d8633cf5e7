"""Airflow's own OpenLineage provider (``apache-airflow-providers-openlineage``) pointed at a
real ``modeldb server``: a DAG run by the real ``airflow dags test`` lands its task and the
file it writes, and a ModelDB-tracked Luigi task reading that file joins it in one graph.

The DAG runs in its own ``airflow dags test`` process because the provider reads its
transport once, when Airflow loads its plugins: this session's process loaded them
without one (the provider is then off, as it is for every other test of the suite)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from modeldb_core.integrations import luigi as mdb_luigi
from tests.airflow.revenue import Revenue
from tests.server.conftest import Server, make_token, request

EXPORT = Path(os.environ["AIRFLOW_HOME"]) / "data" / "ol_orders.csv"
DAG_ID = "mdb_ol_orders_export"
NAMESPACE = "orders-team"  # the provider's OpenLineage namespace: ModelDB's project of its runs

DAG_FILE = textwrap.dedent(f'''
    from pathlib import Path

    from airflow.sdk import Asset, dag, task

    EXPORT = Path({str(EXPORT)!r})


    @dag(dag_id={DAG_ID!r}, schedule=None)
    def orders_export():
        # A file outlet as Airflow 3 names one: the provider sends it as namespace "file",
        # name the path, which ModelDB records as file://<path>.
        @task(outlets=[Asset(uri="file://" + str(EXPORT))])
        def export_orders() -> None:
            EXPORT.parent.mkdir(parents=True, exist_ok=True)
            EXPORT.write_text("order,amount\\n1,20.5\\n2,7.25\\n3,12.0\\n")

        export_orders()


    orders_export()
''')


def _airflow_dags_test(server: Server, token: str, tmp_path: Path) -> str:
    """``airflow dags test`` with both the provider and ModelDB's own listener sending to ``server``."""
    env = dict(os.environ)
    env.update({
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps({
            "type": "http", "url": server.url, "endpoint": "api/v1/lineage", "timeout": 60,
            "auth": {"type": "api_key", "apiKey": token}}),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": NAMESPACE,
        # The provider gives its emission 10 s by default, then drops the event: a shared CI
        # machine under load may need more.
        "AIRFLOW__OPENLINEAGE__EXECUTION_TIMEOUT": "120",
        # ModelDB's own listener, on as well, tracks into the same server.
        "MODELDB_URI": server.url, "MODELDB_TOKEN": token,
    })
    airflow = Path(sys.executable).with_name("airflow")
    done = subprocess.run([str(airflow), "dags", "test", DAG_ID], env=env, capture_output=True,
                          text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, f"airflow dags test failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout + done.stderr


def _wait_for(what, deadline_s: float = 30.0):
    deadline = time.monotonic() + deadline_s
    while True:
        found = what()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_the_provider_lands_an_airflow_task_and_its_file_in_the_graph_a_luigi_reader_joins(
        airflow_db, sqlite_uri, tmp_path, monkeypatch):
    from modeldb_core.store import open_store
    import modeldb_core

    (airflow_db / "dags" / f"{DAG_ID}.py").write_text(DAG_FILE)
    token = make_token(sqlite_uri, "write")
    server = Server(sqlite_uri, tmp_path / "server.log").start()
    try:
        airflow_output = _airflow_dags_test(server, token, tmp_path)
        # The Luigi task reads the file the DAG wrote, tracked by ModelDB through the same server.
        monkeypatch.setenv("MODELDB_TOKEN", token)
        client = modeldb_core.configure(uri=server.url)
        try:
            assert mdb_luigi.build([Revenue(source=str(EXPORT), folder=str(tmp_path))], local_scheduler=True, log_level="WARNING")
        finally:
            client.close()

        store = open_store(sqlite_uri)
        try:
            def runs_by_orchestrator():
                found = {}
                for run in store.list_runs(limit=50):
                    found.setdefault(run.orchestrator.split(":", 1)[0], []).append(run)
                return found if {"openlineage", "airflow", "luigi"} <= set(found) else None

            runs = _wait_for(runs_by_orchestrator)
            assert runs, (f"runs in the store: {[(r.name, r.orchestrator) for r in store.list_runs(limit=50)]}; "
                          f"airflow dags test said: {airflow_output[-3000:]}; the server's log: "
                          f"{server.log.read_text()[-3000:]}")
            # The provider's task run: one run (START and COMPLETE folded), ended, in its namespace.
            [ol_run] = [r for r in runs["openlineage"] if r.name == f"{DAG_ID}.export_orders"]
            assert ol_run.project == NAMESPACE and ol_run.status == "succeeded"
            ol_detail = store.get_run_detail(ol_run.id)
            assert "apache/airflow" in ol_detail.tags["openlineage.producer"]
            # ModelDB's own listener, on at the same time, tracks the same task once, as its own run.
            [own_run] = [r for r in runs["airflow"] if r.name == "export_orders"]
            assert own_run.status == "succeeded" and own_run.id != ol_run.id
            [luigi_run] = [r for r in runs["luigi"] if r.name == "Revenue"]

            uri = f"file://{EXPORT}"
            written = ol_detail.outputs
            assert [o.artifact.uri for o in written] == [uri]
            [read] = store.get_run_detail(luigi_run.id).inputs
            assert read.artifact.uri == uri
        finally:
            store.close()

        # One dataset node, written by the Airflow task and read by the Luigi task, as a
        # tool built for Marquez reads it from the server.
        status, graph = request("GET", f"{server.url}/api/v1/lineage?nodeId=dataset:file:{EXPORT}&depth=5",
                                token=token)
        assert status == 200, graph
        nodes = {node["id"]: node for node in graph["graph"]}
        dataset = f"dataset:file:{EXPORT}"
        writer, reader = f"job:{NAMESPACE}:{DAG_ID}.export_orders", f"job:{luigi_run.project}:Revenue"
        assert {writer, reader, dataset} <= set(nodes)
        assert {"origin": writer, "destination": dataset} in nodes[dataset]["inEdges"]
        assert {"origin": dataset, "destination": reader} in nodes[dataset]["outEdges"]
        assert token not in server.log.read_text()
    finally:
        server.stop()
