"""A model deployed to prod from a real Airflow task (dag.test()): the deployment is linked to the task's run."""
from __future__ import annotations

import pickle

from airflow.sdk import dag, task

import modeldb_core as mdb


@dag(dag_id="mdb_release", schedule=None)
def release():
    @task(params={"modeldb_phase": "deployment"})
    def deploy_to_prod() -> int:
        deployment = mdb.record_deployment("models:/pricing@production", "prod",
                                           endpoint="https://pricing.internal/v1", reason="release")
        return deployment.id

    deploy_to_prod()


RELEASE = release()


def test_an_airflow_task_deploys_the_production_version_to_prod(airflow_tracking, run_dag, tmp_path):
    from sklearn.linear_model import LinearRegression

    path = tmp_path / "pricing.pkl"
    path.write_bytes(pickle.dumps(LinearRegression().fit([[0.0], [1.0]], [1.0, 3.0])))
    mdb.register_model("pricing", artifact=str(path))
    mdb.registry.promote("models:/pricing/1", "production")

    dr = run_dag(RELEASE)

    assert dr.state == "success"
    mdb.flush()
    store = airflow_tracking.store
    [deployment] = store.deployments(environment="prod")
    assert (deployment.version, deployment.requested, deployment.endpoint) == (
        1, "models:/pricing@production", "https://pricing.internal/v1")
    run = store.get_run_detail(deployment.run_id)
    assert (run.run.orchestrator, run.run.phase, run.run.name) == ("airflow", "deployment", "deploy_to_prod")
    assert run.run.external_id == f"mdb_release/{dr.run_id}/deploy_to_prod"
    assert [i.name for i in run.inputs] == ["model"]
    assert store.verify_audit().ok
