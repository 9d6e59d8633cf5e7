"""A deployment recorded from inside a real Prefect task is linked to that task's run."""
from __future__ import annotations

import pickle

import pytest
from prefect import flow, task

import modeldb_core as mdb
from modeldb_core.integrations.prefect import track


@pytest.fixture
def sqlite_tracking(sqlite_uri):
    client = mdb.configure(uri=sqlite_uri)
    yield client
    client.close()


@task
def deploy(model: str, environment: str) -> int:
    return mdb.record_deployment(model, environment, endpoint="prefect://pricing").id


@flow
def release(model: str) -> list[int]:
    return [deploy(model, "staging"), deploy(model, "prod")]


tracked_release = track(release, project="pricing", phases={"deploy": "deployment"})


def test_a_prefect_task_records_a_deployment_linked_to_its_run(sqlite_tracking, tmp_path):
    path = tmp_path / "pricing.pkl"
    path.write_bytes(pickle.dumps({"slope": 2.5}))
    mdb.register_model("pricing", artifact=str(path))
    mdb.registry.promote("models:/pricing/1", "production")

    state = tracked_release("models:/pricing@production", return_state=True)

    assert state.is_completed()
    numbers = state.result()
    mdb.flush()
    store = sqlite_tracking.store
    deployments = [store.get_deployment(n) for n in numbers]
    assert [(d.environment, d.version, d.requested) for d in deployments] == [
        ("staging", 1, "models:/pricing@production"), ("prod", 1, "models:/pricing@production")]
    runs = [store.get_run_detail(d.run_id) for d in deployments]
    assert len({r.run.id for r in runs}) == 2
    for detail in runs:
        assert (detail.run.orchestrator, detail.run.phase, detail.run.name) == ("prefect", "deployment", "deploy")
        assert [i.name for i in detail.inputs] == ["model"]
    assert [d.id for d in mdb.deployments(model="pricing")] == [numbers[1], numbers[0]]  # by environment
