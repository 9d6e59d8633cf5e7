"""Reproducing a run: ``mdb.reproduce(run_id)`` and ``modeldb reproduce RUN``.

``plan.py`` says what re-executing a run needs and what blocks it (``--dry-run``);
``execute.py`` checks the code out at the run's commit with its captured diff and calls
the entry point again in a fresh process as a new run linked to the original
(``reproduces``); ``verdict.py`` compares every output and metric. See docs/reproduce.md.
"""
from __future__ import annotations

import os
from typing import Any

from .plan import Blocker, InputSource, PackageDifference, ReproductionPlan, make_plan
from .verdict import DEFAULT_TOLERANCE, Difference, Verdict

ENVIRONMENTS = ("current", "rebuild")


def plan(run_id: str, client: Any = None, upstream: bool = False, flow: bool = False) -> ReproductionPlan:
    """What reproducing ``run_id`` will do, and what blocks it (nothing is executed)."""
    from ..artifact_store import ArtifactStore
    from ..client import get_client

    client = client or get_client()
    return make_plan(client.store, run_id, ArtifactStore(client.settings.artifacts), upstream, flow=flow)


def reproduce(run_id: str, *, dry_run: bool = False, env: str = "current", workdir: str | os.PathLike | None = None,
              tolerance: float = DEFAULT_TOLERANCE, arguments: dict[str, Any] | None = None,
              upstream: bool = False, flow: bool = False, client: Any = None) -> ReproductionPlan | Verdict:
    """Re-execute a run from its recorded code, environment, inputs and seed, and say whether
    it came out the same. ``dry_run=True`` returns the plan only. ``env="current"`` runs in
    this environment; ``"rebuild"`` in a fresh virtual environment made from the run's lock
    with uv. ``arguments`` gives values the run could not record (a secret, an object).
    ``upstream=True`` first reproduces the runs that wrote inputs no longer available.
    ``flow=True`` (``run_id`` a task run of a tracked Prefect flow) calls the whole flow
    again with its recorded parameters and compares its task runs one by one."""
    from .. import validation
    from ..client import get_client
    from ..errors import ReproductionBlockedError, ValidationError

    if env not in ENVIRONMENTS:
        raise ValidationError("env", env, "must be 'current' or 'rebuild'")
    tolerance = validation.metric_value("tolerance", tolerance)
    client = client or get_client()
    found = plan(run_id, client, upstream and not flow, flow)
    if dry_run:
        return found
    _check_arguments(found, arguments or {})
    blockers = [b for b in found.blockers if not _given(b, arguments or {})]
    if blockers:
        raise ReproductionBlockedError(found.run_id, blockers)
    if found.kind == "sklearn":
        if env == "rebuild":
            from ..errors import ReproductionError

            raise ReproductionError("a scikit-learn fit is re-fitted in this process: use --env current, or "
                                    "reproduce the @tracked_task run that made it")
        from .refit import refit

        return refit(client, found, tolerance)
    from .execute import run_flow, run_python

    execute = run_flow if flow else run_python
    if env == "current":
        return execute(client, found, None if workdir is None else str(workdir), None, tolerance, arguments)
    import shutil
    import tempfile

    from .environment import rebuild

    folder = tempfile.mkdtemp(prefix="modeldb-venv-") if workdir is None else str(workdir)
    try:
        python = rebuild(client, found, folder)
        return execute(client, found, None if workdir is None else str(workdir), python, tolerance, arguments)
    finally:
        if workdir is None:
            shutil.rmtree(folder, ignore_errors=True)


def _check_arguments(found: ReproductionPlan, arguments: dict[str, Any]) -> None:
    """Every argument given must be one the entry point takes (a typo is not silently dropped)."""
    from .. import recipe
    from ..errors import ValidationError

    known = sorted((found.recipe.get(recipe.ENTRY) or {}).get("arguments", {}))
    for name in sorted(arguments):
        if name not in known:
            raise ValidationError(f"arguments[{name!r}]", "***", "is not an argument of the run's entry point "
                                  f"{found.entry_point} (it takes: {', '.join(known) or 'none'})")


def _given(blocker: Blocker, arguments: dict[str, Any]) -> bool:
    return any(blocker.problem.startswith(f"argument {name!r}") for name in arguments)


__all__ = ["Blocker", "Difference", "InputSource", "PackageDifference", "ReproductionPlan", "Verdict",
           "plan", "reproduce"]
