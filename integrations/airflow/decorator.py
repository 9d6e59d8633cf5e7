"""``@tracked_task`` inside Airflow: stack it under ``@task``.

    @task
    @tracked_task(phase="training", outputs=["model_path"])
    def train(data_path: str, model_path: str, alpha: float = 0.1):
        ...
        modeldb_core.log_metric("rmse", rmse)   # lands on this task instance's run

When the listener tracks the task, it has already started the run of this
task instance try (params, inputs, external id, try number); the decorator
then logs into that run (its phase, tags and declared inputs/outputs apply to
it) instead of starting a second one. Outside Airflow, or in a DAG that is not
tracked, it is the plain ``modeldb_core.tracked_task``.
"""
from __future__ import annotations

from modeldb_core.task import tracked_task

__all__ = ["tracked_task"]
