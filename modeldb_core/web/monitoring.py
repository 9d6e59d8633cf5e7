"""A model's monitoring in the web app: per-feature drift over time and its JSON.

Its own page (``/models/{name}/monitoring``) and endpoint
(``/api/models/{name}/monitoring``), read from the monitoring runs (monitoring/status.py).
"""
from __future__ import annotations

from typing import Any

from modeldb_core.extras import require

require("fastapi", "ui", "the web UI")  # a missing extra is named
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from modeldb_core.monitoring import status

from .encode import jsonable

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["api"])
HEAT_LEVELS = 6
_PERFORMANCE = ("r2_score", "mean_squared_error", "mean_absolute_error", "accuracy_score", "f1_score",
                "precision_score", "recall_score")


def monitoring(store: Any, name: str, limit: int = 200, project: str | None = None) -> dict[str, Any]:
    """The monitoring of model ``name`` (of ``project``, or the one project holding the name):
    latest state per (version, deployment), every batch with its metrics, and the drift of
    each feature per batch."""
    model = store.get_model(name, project)  # an unknown model is a 404, not an empty page
    name, project = model.name, model.project
    batches = status.history(store, name, limit=limit, project=project)
    features: list[str] = []
    for batch in batches:
        for key in batch["metrics"]:
            if key.startswith("drift.psi.") and key[len("drift.psi."):] not in features:
                features.append(key[len("drift.psi."):])
    drift = []
    for feature in features:
        cells = []
        for batch in batches:
            m = batch["metrics"]
            value, threshold = m.get(f"drift.psi.{feature}"), m.get(f"drift.psi_threshold.{feature}")
            ratio = value / threshold if value is not None and threshold else None
            cells.append({"run_id": batch["run_id"], "psi": value, "psi_threshold": threshold, "ratio": ratio,
                          "p_value": m.get(f"drift.p.{feature}"),
                          "flagged": m.get(f"drift.feature_flagged.{feature}", 0.0) >= 0.5})
        drift.append({"feature": feature, "batches": cells})
    return {"model": name, "states": jsonable(status.latest_states(store, model=name, project=project)),
            "batches": jsonable(batches),
            "drift": jsonable(drift)}


def _level(ratio: float | None) -> int | None:
    """The heat of a cell: a batch's PSI over its calibrated threshold, in ``HEAT_LEVELS`` steps
    (level 4 and 5: over the threshold)."""
    if ratio is None:
        return None
    for level, bound in enumerate((0.25, 0.5, 0.75, 1.0, 2.0)):
        if ratio < bound:
            return level
    return HEAT_LEVELS - 1


@pages.get("/models/{name}/monitoring", response_class=HTMLResponse)
def monitoring_page(request: Request, name: str, project: str | None = None):
    data = monitoring(request.app.state.store.get(), name, project=project)
    for row in data["drift"]:
        for cell in row["batches"]:
            cell["level"] = _level(cell["ratio"] if isinstance(cell["ratio"], float) else None)
    performance = [key for key in _PERFORMANCE if any(key in b["metrics"] for b in data["batches"])]
    return request.app.state.renderer.page(request, "monitoring.html", {
        "title": f"Monitoring of {name}", "d": data, "performance": performance})


@api.get("/models/{name}/monitoring",
         summary="A model's monitoring: latest state per deployment, batches, per-feature drift over time")
def monitoring_json(request: Request, name: str, limit: int = 200, project: str | None = None) -> dict[str, Any]:
    return monitoring(request.app.state.store.get(), name, limit=max(1, min(limit, 2000)), project=project)
