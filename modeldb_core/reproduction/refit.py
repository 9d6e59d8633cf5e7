"""Reproducing a scikit-learn fit: the unfitted estimator (recorded as a clone, so its
``get_params(deep=True)`` is the run's) fitted again on the recorded training data, with
scikit-learn logging on, as a new run linked to the original; then the verdict."""
from __future__ import annotations

from typing import Any

from .. import recipe
from ..artifact_store import ArtifactStore
from ..errors import ReproductionError
from .plan import ReproductionPlan
from .verdict import Verdict, compare


def refit(client: Any, plan: ReproductionPlan, tolerance: float) -> Verdict:
    from ..events import uuid7
    from ..sklearn import autolog, is_enabled
    from .execute import _landed, record

    fit = plan.recipe[recipe.SKLEARN]
    if fit.get("fit_arguments"):
        raise ReproductionError(f"the fit was given {', '.join(fit['fit_arguments'])}, which were not recorded")
    store = ArtifactStore(client.settings.artifacts)
    if not store.exists(fit["unfitted"]):
        raise ReproductionError("the unfitted estimator is no longer in the artifact store")
    estimator = store.load_pickle(fit["unfitted"])
    data = [store.load_pickle(fit["snapshots"][name]) for name in fit["data"]]
    detail = client.store.get_run_detail(plan.run_id)
    seed = detail.params.get("seed_everything")
    if seed is not None:
        from ..seeds import seed_everything

        seed_everything(int(seed))
    was_enabled = is_enabled()
    autolog()
    new_id = uuid7()
    client.reproducing = recipe.Reproducing(plan.run_id, new_id)
    try:
        getattr(estimator, fit.get("method", "fit"))(*data)
    finally:
        client.reproducing = None
        if not was_enabled:
            autolog(disable=True)
    client.flush()
    verdict = compare(detail, _landed(client, new_id), plan, tolerance, artifacts=store,
                      during_run_only=True)
    record(client, verdict)
    return verdict

