"""OpenLineage in (RunEvents posted to the server join ModelDB's lineage) and out (ModelDB
runs sent as RunEvents that a second server, checking them against the schema, rebuilds)."""
from __future__ import annotations

import random
import uuid

PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.0.0/integration/spark"


def _event(kind: str, run_id: str, at: str, inputs=(), outputs=(), **run_facets) -> dict:
    return {"eventType": kind, "eventTime": at, "producer": PRODUCER,
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "run": {"runId": run_id, "facets": run_facets},
            "job": {"namespace": "spark-jobs", "name": "build_features"},
            "inputs": [{"namespace": "file", "name": p} for p in inputs],
            "outputs": [{"namespace": "file", "name": p,
                         "facets": {"schema": {"_producer": PRODUCER, "_schemaURL": PRODUCER,
                                               "fields": [{"name": "price", "type": "double"}]}}}
                        for p in outputs]}


def _store(uri):
    from modeldb_core.store import open_store

    return open_store(uri)


def _edges(uri) -> list:
    from sqlalchemy import select

    from modeldb_core.store import schema as t

    store = _store(uri)
    try:
        with store._read() as conn:
            return sorted(tuple(r) for r in conn.execute(select(
                t.run_io.c.run_id, t.run_io.c.artifact_version_id, t.run_io.c.direction)))
    finally:
        store.close()


def test_an_openlineage_run_joins_the_lineage_of_a_modeldb_run(store_uri, start_server, http, new_token,
                                                               monkeypatch, tmp_path):
    import modeldb_core as m

    server = start_server(store_uri)
    token = new_token(store_uri)
    data = tmp_path / "houses.csv"
    data.write_text("price\n1\n2\n")
    monkeypatch.setenv("MODELDB_TOKEN", token)
    client = m.configure(uri=server.url)
    try:
        @m.tracked_task(project="pricing")
        def explore(path):
            m.log_input(path)
            return 1

        explore(str(data))
        assert m.flush(60)
    finally:
        client.close()

    ol_run = str(uuid.uuid4())
    features = str(tmp_path / "features.parquet")
    start = _event("START", ol_run, "2026-12-01T10:00:00Z", inputs=[str(data)])
    complete = _event("COMPLETE", ol_run, "2026-12-01T10:05:00.500Z", inputs=[str(data)], outputs=[features])
    url = server.url + "/api/v1/lineage"
    assert http("POST", url, start, token=token)[0] == 201
    assert http("POST", url, complete, token=token)[0] == 201

    store = _store(store_uri)
    try:
        run = store.get_run_detail(ol_run)
        assert run.run.status == "succeeded" and run.run.orchestrator == "openlineage"
        assert run.run.name == "build_features" and run.run.project == "spark-jobs"
        assert run.run.ended_at - run.run.started_at == 300.5
        assert run.tags["openlineage.producer"] == PRODUCER
        assert [i.artifact.uri for i in run.inputs] == [f"file://{data}"]
        assert [o.artifact.uri for o in run.outputs] == [f"file://{features}"]
        assert run.outputs[0].artifact.metadata["schema"] == {"price": "double"}
        # One node for the file: the ModelDB run and the OpenLineage run both read it.
        version = run.inputs[0].artifact.id
        graph = store.lineage(f"artifact:{version}", direction="down")
        readers = {n.id for n in graph.nodes if n.kind == "run"}
        modeldb_run = store.list_runs(project="pricing")[0].id
        assert readers == {ol_run, modeldb_run}
    finally:
        store.close()

    # The graph in Marquez's shape, for tools built for Marquez.
    status, answer = http("GET", f"{server.url}/api/v1/lineage?nodeId=dataset:file:{data}&depth=5",
                          token=token)
    assert status == 200
    nodes = {n["id"]: n for n in answer["graph"]}
    houses, spark = f"dataset:file:{data}", "job:spark-jobs:build_features"
    assert {houses, spark, f"dataset:file:{features}"} <= set(nodes)
    assert {"origin": houses, "destination": spark} in nodes[houses]["outEdges"]
    assert {"origin": spark, "destination": f"dataset:file:{features}"} in nodes[spark]["outEdges"]
    assert any(n.startswith("job:pricing:") for n in nodes)
    assert nodes[houses]["type"] == "DATASET" and nodes[spark]["data"] == {
        "namespace": "spark-jobs", "name": "build_features"}
    status, answer = http("GET", f"{server.url}/api/v1/lineage?nodeId={spark}&depth=5", token=token)
    assert status == 200 and houses in {n["id"] for n in answer["graph"]}
    assert http("GET", f"{server.url}/api/v1/lineage?nodeId=table:x", token=token)[0] == 400

    # At-least-once delivery: the same events again, in any order, change nothing.
    before = _edges(store_uri)
    events = [start, complete, complete, start]
    random.Random(7).shuffle(events)
    for event in events:
        assert http("POST", url, event, token=token)[0] == 201
    assert _edges(store_uri) == before


def test_a_complete_before_its_start_waits_for_it(sqlite_uri, start_server, http, new_token):
    server = start_server(sqlite_uri)
    token = new_token(sqlite_uri)
    run_id = str(uuid.uuid4())
    url = server.url + "/api/v1/lineage"
    fail = _event("FAIL", run_id, "2026-12-01T10:05:00Z",
                  errorMessage={"_producer": PRODUCER, "_schemaURL": PRODUCER, "message": "disk full",
                                "programmingLanguage": "scala"})
    assert http("POST", url, fail, token=token)[0] == 201
    dag_run = str(uuid.uuid4())
    parent = {"_producer": PRODUCER, "_schemaURL": PRODUCER, "run": {"runId": dag_run},
              "job": {"namespace": "airflow", "name": "nightly"}}
    assert http("POST", url, _event("START", run_id, "2026-12-01T10:00:00Z", parent=parent),
                token=token)[0] == 201
    assert http("POST", url, _event("RUNNING", run_id, "2026-12-01T10:06:00Z"), token=token)[0] == 201
    store = _store(sqlite_uri)
    try:
        run = store.get_run(run_id)
        assert run.status == "failed" and run.error_message == "disk full"
        # The parent run facet names the pipeline run (the DAG run holding the task).
        [(pipeline_run, pipeline)] = store.pipeline_runs(ids=[run.pipeline_run_id])
        assert pipeline.name == "nightly" and pipeline_run.external_id == dag_run
    finally:
        store.close()


def test_a_malformed_openlineage_event_is_refused_naming_the_field(sqlite_uri, start_server, http, new_token):
    server = start_server(sqlite_uri)
    token = new_token(sqlite_uri)
    url = server.url + "/api/v1/lineage"
    bad = _event("START", "not-a-uuid", "2026-12-01T10:00:00Z")
    status, answer = http("POST", url, bad, token=token)
    assert status == 400 and answer["error"]["field"] == "run.runId"
    bad = _event("EXPLODED", str(uuid.uuid4()), "2026-12-01T10:00:00Z")
    status, answer = http("POST", url, bad, token=token)
    assert status == 400 and answer["error"]["field"] == "eventType"
    bad = _event("START", str(uuid.uuid4()), "2026-12-01T10:00:00Z")
    del bad["job"]
    status, answer = http("POST", url, bad, token=token)
    assert status == 400 and "job" in answer["error"]["message"]
    assert http("POST", url, {"dataset": {"namespace": "file", "name": "/x"}, "eventTime":
                              "2026-12-01T10:00:00Z", "producer": PRODUCER,
                              "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent"},
                token=token)[0] == 201


def test_modeldb_runs_go_out_as_openlineage_events(sqlite_uri, tmp_path, start_server, monkeypatch):
    import modeldb_core as m

    receiver_uri = f"sqlite:///{tmp_path / 'receiver.db'}"
    receiver = start_server(receiver_uri, no_auth=True)
    data = tmp_path / "houses.csv"
    data.write_text("price\n1\n2\n")
    monkeypatch.setenv("MODELDB_OPENLINEAGE_URL", receiver.url + "/api/v1/lineage")
    client = m.configure(uri=sqlite_uri)
    try:
        @m.tracked_task(project="pricing")
        def train(path, lr=0.1):
            m.log_input(path)
            return 1

        train(str(data), lr=0.3)
        assert m.flush(60)
    finally:
        client.close()
    source, received = _store(sqlite_uri), _store(receiver_uri)
    try:
        run = source.list_runs(project="pricing")[0]
        # The receiving server checked each event against the OpenLineage schema before applying it.
        copy = received.get_run_detail(run.id)
        assert copy.run.status == "succeeded" and copy.run.name == run.name
        assert copy.run.project == "pricing"
        assert [i.artifact.uri for i in copy.inputs] == [f"file://{data}"]
        original = source.get_run_detail(run.id)
        assert copy.inputs[0].artifact.content_hash == original.inputs[0].artifact.content_hash
    finally:
        source.close()
        received.close()


def test_without_the_openlineage_extra_runs_are_stored_and_the_extra_is_named_once(
        sqlite_uri, monkeypatch, caplog):
    """The emitter goes through the official client (the ``openlineage`` extra): without it the
    runs land as ever and one warning says what to install."""
    import sys

    import modeldb_core as m

    monkeypatch.setitem(sys.modules, "openlineage.client", None)  # as if it were not installed
    monkeypatch.setenv("MODELDB_OPENLINEAGE_URL", "http://127.0.0.1:9/api/v1/lineage")
    client = m.configure(uri=sqlite_uri)
    try:
        @m.tracked_task(project="pricing")
        def train(lr=0.1):
            return lr

        with caplog.at_level("WARNING", logger="modeldb"):
            for lr in (0.1, 0.2, 0.3):
                assert train(lr=lr) == lr
                assert m.flush(60)
    finally:
        client.close()
    store = _store(sqlite_uri)
    try:
        assert len(store.list_runs(project="pricing")) == 3
    finally:
        store.close()
    said = [r.getMessage() for r in caplog.records if "modeldb[openlineage]" in r.getMessage()]
    assert len(said) == 1, said


def _contents(uri) -> tuple:
    from sqlalchemy import select

    from modeldb_core.store import schema as t

    store = _store(uri)
    try:
        with store._read() as conn:
            runs = sorted(tuple(r) for r in conn.execute(select(
                t.runs.c.uuid, t.runs.c.name, t.runs.c.status, t.runs.c.started_at, t.runs.c.ended_at)))
            versions = sorted(tuple(r) for r in conn.execute(select(
                t.artifacts.c.uri, t.artifact_versions.c.content_hash).join(
                t.artifact_versions, t.artifact_versions.c.artifact_id == t.artifacts.c.id)))
        return runs, versions, _edges(uri)
    finally:
        store.close()


def test_the_official_openlineage_client_delivers_at_least_once(store_uri, start_server, new_token):
    """openlineage-python's HTTP transport posts START/COMPLETE pairs; the same events again,
    shuffled, leave the store as it was."""
    from openlineage.client import OpenLineageClient
    from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
    from openlineage.client.transport.http import ApiKeyTokenProvider, HttpConfig, HttpTransport

    server = start_server(store_uri)
    token = new_token(store_uri)
    client = OpenLineageClient(transport=HttpTransport(HttpConfig(
        url=server.url, auth=ApiKeyTokenProvider({"apiKey": token}))))
    events = []
    for i in range(100):
        run = Run(runId=str(uuid.uuid4()))
        job = Job(namespace="dbt", name=f"model_{i % 7}")
        inputs = [InputDataset(namespace="postgres://db:5432", name=f"shop.public.orders_{i % 5}")]
        outputs = [OutputDataset(namespace="postgres://db:5432", name=f"shop.marts.m_{i}")]
        for state, minute in ((RunState.START, 0), (RunState.COMPLETE, 1 + i % 3)):
            events.append(RunEvent(eventType=state, eventTime=f"2026-12-01T10:{minute:02d}:00Z", run=run,
                                   job=job, producer=PRODUCER, inputs=inputs, outputs=outputs))
    for event in events:
        client.emit(event)
    first = _contents(store_uri)
    assert len(first[0]) == 100 and {r[2] for r in first[0]} == {"succeeded"}
    assert ("postgres://db:5432/shop.public.orders_0", "openlineage:unversioned") in first[1]
    random.Random(3).shuffle(events)
    for event in events:
        client.emit(event)
    assert _contents(store_uri) == first


def test_a_runs_end_carries_its_last_metrics_and_models_as_modeldb_facets():
    """What OpenLineage out sends of a run beyond its datasets (``modeldb_`` facets), across
    batches, valid against the OpenLineage schema (NaN, which JSON lacks, as null)."""
    from modeldb_core import events as ev
    from modeldb_core.openlineage import run_events
    from modeldb_core.server.lineage import check

    run_id, known = ev.uuid7(), {}
    first = [ev.Event(ev.STARTED, run_id, 1, {"project": "pricing", "name": "train", "started_at": 1000.0,
                                               "params": {"alpha": 0.5}}),
             ev.Event(ev.METRIC, run_id, 2, ["rmse", 31.0, 0, 1001.0]),
             ev.Event(ev.METRIC, run_id, 3, ["rmse", 29.5, 1, 1002.0])]
    second = [ev.Event(ev.METRIC, run_id, 4, ["rmse", 40.0, 0, 1003.0]),  # an older step: not the last
              ev.Event(ev.METRIC, run_id, 5, ["loss", float("nan"), 0, 1003.0]),
              ev.Event(ev.MODEL_REGISTERED, run_id, 6, {"model": "pricing", "version": {
                  "uri": "file:///m/model.pkl", "kind": "model", "content_hash": "sha256:ab"}}),
              ev.Event(ev.ENDED, run_id, 7, {"status": "succeeded", "ended_at": 1004.0})]
    [start] = run_events(first, known)
    [end] = run_events(second, known)
    for event in (start, end):
        check(event)
    assert start["run"]["facets"]["modeldb_params"]["params"] == {"alpha": 0.5}
    facets = end["run"]["facets"]
    assert end["eventType"] == "COMPLETE" and end["job"] == {"namespace": "pricing", "name": "train"}
    assert facets["modeldb_metrics"]["metrics"] == {"loss": None, "rmse": 29.5}
    assert facets["modeldb_models"]["models"] == [
        {"model": "pricing", "uri": "file:///m/model.pkl", "content_hash": "sha256:ab"}]
    assert known == {}  # nothing kept of an ended run
