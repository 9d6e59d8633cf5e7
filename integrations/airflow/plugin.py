"""The ``modeldb`` Airflow plugin (registered by the ``airflow.plugins`` entry point).

- ``listeners``: every task instance of every tracked DAG becomes a run (``listener``).
- ``fastapi_apps``: the ModelDB web app under ``/modeldb`` in the API server,
  behind Airflow's login (``views``, ``auth``).
- ``external_views``: "ModelDB" in the navigation, and a ModelDB tab on DAGs,
  DAG runs, tasks and task instances.

No ``appbuilder_views``: those need the FAB provider, which Airflow 3 does not
install by default.
"""
from __future__ import annotations

from modeldb_core.extras import require

from .listener import listener
from .views import EXTERNAL_VIEWS, MOUNT, ModelDBMount

AirflowPlugin = require("airflow.plugins_manager", "airflow", "the Airflow integration").AirflowPlugin


class ModelDBPlugin(AirflowPlugin):
    name = "modeldb"
    listeners = [listener]
    fastapi_apps = [{"name": "ModelDB", "app": ModelDBMount(), "url_prefix": MOUNT}]
    external_views = [dict(view) for view in EXTERNAL_VIEWS]
