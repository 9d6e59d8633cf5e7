"""Deployments recorded from tracked work: a ``@tracked_task(phase="deployment")`` and a real Luigi build.
The run that deployed is linked to the deployment and has the model version as its input."""
from __future__ import annotations

import os
import pickle
import shutil

import luigi
import pytest

import modeldb_core as mdb
from modeldb_core.errors import ValidationError
from modeldb_core.integrations import luigi as mdb_luigi


@pytest.fixture
def registered(tracking, tmp_path):
    """A real scikit-learn fit, pickled, registered as models:/pricing/1 and promoted to production."""
    from sklearn.linear_model import LinearRegression

    model = LinearRegression().fit([[0.0], [1.0], [2.0]], [1.0, 3.0, 5.0])
    path = tmp_path / "pricing.pkl"
    path.write_bytes(pickle.dumps(model))
    version = mdb.register_model("pricing", artifact=str(path))
    mdb.registry.promote(version.uri, "production")
    return path


@mdb.tracked_task(project="pricing", phase="deployment")
def deploy(model: str, environment: str) -> int:
    return mdb.record_deployment(model, environment, endpoint="k8s://pricing/v1").id


@mdb.tracked_task(project="pricing", phase="deployment")
def deploy_file(model_path: str) -> int:
    # The task read the model file: the registered version with that content is deployed.
    return mdb.record_deployment(None, "staging", reason="smoke test").id


def test_a_deployment_task_is_linked_to_the_deployment_it_records(tracking, registered):
    number = deploy("models:/pricing@production", "prod")
    deployment = tracking.store.get_deployment(number)
    assert (deployment.version, deployment.requested) == (1, "models:/pricing@production")
    run = tracking.store.get_run_detail(deployment.run_id)
    assert run.run.phase == "deployment" and run.run.status == "succeeded"
    assert run.params["model"] == "models:/pricing@production"
    assert [(i.name, i.artifact.content_hash) for i in run.inputs] == [
        ("model", mdb.resolve_model("models:/pricing/1").content_hash)]
    audit = [e for e in tracking.store.audit_events("models:/pricing") if e.action == "deployment.record"]
    assert audit[0].after["run"] == deployment.run_id


def test_a_task_whose_input_is_the_model_file_deploys_that_version(tracking, registered, tmp_path):
    copy = tmp_path / "elsewhere.pkl"
    shutil.copy(registered, copy)  # the same content at another path is the same version
    deployment = tracking.store.get_deployment(deploy_file(str(copy)))
    assert (deployment.model, deployment.version, deployment.environment) == ("pricing", 1, "staging")
    assert tracking.store.get_run(deployment.run_id).phase == "deployment"


def test_a_task_that_read_no_registered_model_is_told_to_name_one(tracking, tmp_path):
    other = tmp_path / "data.csv"
    other.write_text("x\n1\n")
    with pytest.raises(ValidationError, match="read 0 registered model versions"):
        deploy_file(str(other))


class DeployPricing(luigi.Task):
    """A Luigi task that deploys what the production alias names; the integration makes its run."""

    folder = luigi.Parameter()
    modeldb_phase = "deployment"

    def output(self):
        return luigi.LocalTarget(os.path.join(self.folder, "deployed.txt"))

    def run(self):
        deployment = mdb.record_deployment("models:/pricing@production", "prod", endpoint="https://pricing.internal")
        with self.output().open("w") as fh:
            fh.write(str(deployment.id))


def test_a_luigi_task_records_a_deployment_linked_to_its_run(tracking, registered, tmp_path):
    mdb_luigi.track()
    try:
        assert luigi.build([DeployPricing(folder=str(tmp_path))], local_scheduler=True, no_lock=True,
                           log_level="WARNING")
    finally:
        mdb_luigi.untrack()
    mdb.flush()
    number = int((tmp_path / "deployed.txt").read_text())
    deployment = tracking.store.get_deployment(number)
    assert (deployment.version, deployment.environment, deployment.serving) == (1, "prod", True)
    run = tracking.store.get_run(deployment.run_id)
    assert (run.orchestrator, run.phase, run.status) == ("luigi", "deployment", "succeeded")
    assert "DeployPricing" in run.name
    assert [d.id for d in mdb.deployments(environment="prod")] == [number]
