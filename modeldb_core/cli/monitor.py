"""``modeldb monitor status``: the latest monitoring state per deployment and model version."""
from __future__ import annotations

import click

from .output import emit, format_options, iso, timestamp

COLUMNS = ["model", "project", "version", "deployment", "state", "flagged_in_a_row", "batches", "rows",
           "features_flagged", "top_drift", "last_run", "last_at"]


@click.group("monitor")
def monitor_group() -> None:
    """Monitoring runs: drift of live data against each model version's training data."""


@monitor_group.command("status")
@click.argument("target", required=False)
@click.option("--model", "model", default=None, help="Only this model.")
@click.option("--deployment", "deployment", default=None, help="Only this deployment (id or name).")
@click.option("--degraded-after", type=click.IntRange(min=1), default=None,
              help="Flagged batches in a row that make a deployment degraded (default: the "
                   "degraded_after setting, 3).")
@format_options
@click.pass_obj
def status(obj, target, model, deployment, degraded_after, fmt) -> None:
    """The latest state of each (model version, deployment); TARGET is a model name or, when
    no model has that name, a deployment."""
    from modeldb_core.monitoring.status import DegradationRule, latest_states

    store = obj.store
    rule = DegradationRule(degraded_after) if degraded_after else DegradationRule.from_settings(obj.client.settings)
    states = latest_states(store, model=model or target, deployment=deployment, rule=rule)
    if not states and target and not model:
        states = latest_states(store, deployment=target, rule=rule)
    rows = []
    for s in states:
        state = "degraded" if s.degraded else ("drifting" if s.flagged else "ok")
        drift = ", ".join(f"{name} {value:.3g}" for name, value in s.top_drift[:3])
        rows.append({"model": s.model, "project": s.project, "version": s.version, "deployment": s.deployment or "", "state": state,
                     "flagged_in_a_row": s.flagged_in_a_row, "batches": s.batches, "rows": s.rows,
                     "features_flagged": s.features_flagged,
                     "top_drift": drift if fmt != "json" else [list(t) for t in s.top_drift],
                     "last_run": s.last_run_id,
                     "last_at": iso(s.last_at) if fmt != "table" else timestamp(s.last_at)})
    emit(rows, COLUMNS, fmt, empty="(no monitoring runs)")


def register(cli: click.Group) -> None:
    cli.add_command(monitor_group)
