"""``modeldb deployments ...``: where each model version serves, and what served when."""
from __future__ import annotations

import click

from . import output
from .models import MOMENT, _actor, project_option, qualified
from .output import format_options

COLUMNS = ["id", "environment", "model", "version", "state", "traffic", "since", "until", "actor", "endpoint"]


def deployment_row(d, fmt: str) -> dict:
    """One deployment as the listings print it (JSON: every field, ISO times)."""
    if fmt == output.JSON:
        return {"id": d.id, "environment": d.environment, "model": d.model, "version": d.version, "uri": d.uri,
                "requested": d.requested, "state": d.state, "traffic": d.traffic, "since": output.iso(d.since),
                "until": output.iso(d.until), "serving": d.serving, "actor": d.actor, "endpoint": d.endpoint,
                "reason": d.reason, "run": d.run_id, "state_reason": d.state_reason,
                "state_changed_at": output.iso(d.state_changed_at), "uuid": d.uuid}
    return {"id": d.id, "environment": d.environment, "model": d.model, "version": d.version, "state": d.state,
            "traffic": "all" if d.traffic is None else f"{d.traffic:g}", "since": output.timestamp(d.since),
            "until": output.timestamp(d.until) if d.until is not None else "serving", "actor": d.actor,
            "endpoint": d.endpoint or ""}


@click.group("deployments")
def deployments_group() -> None:
    """Deployments: which model version serves in which environment, since and until when (docs/deployments.md)."""


@deployments_group.command("list")
@click.option("-m", "--model", default=None, help="Only this model (name) or version (name/N, name@alias).")
@click.option("-e", "--environment", default=None, help="Only this environment.")
@click.option("--at", "at", type=MOMENT, default=None, help="What served then (ISO 8601; no zone: UTC).")
@click.option("--all", "history", is_flag=True, help="Every deployment ever recorded, not only what serves.")
@project_option
@format_options
@click.pass_obj
def list_deployments(obj, model, environment, at, history, project, fmt) -> None:
    """What serves now, or what served at --at."""
    found = obj.store.deployments(model=qualified(model, project) if model else None, environment=environment,
                                  at=at, history=history)
    when = "then" if at is not None else "now"
    output.emit([deployment_row(d, fmt) for d in found], COLUMNS, fmt,
                empty="No deployment recorded." if history else f"Nothing serves {when}.")


@deployments_group.command("record")
@click.argument("ref")
@click.argument("environment")
@click.option("--endpoint", default=None, help="How it is reached (URL, service, job name).")
@click.option("--traffic", type=float, default=None, help="A canary's share of the traffic (greater than 0, at "
                                                          "most 1); without it, it takes all the traffic.")
@click.option("--reason", default=None)
@click.option("--run", "run_id", default=None, help="The run that deployed it.")
@project_option
@format_options
@click.pass_obj
def record(obj, ref, environment, endpoint, traffic, reason, run_id, project, fmt) -> None:
    """Record that the version REF names (name/N, name@alias: resolved now) serves in ENVIRONMENT."""
    d = obj.store.record_deployment(qualified(ref, project), environment, _actor(obj), endpoint=endpoint, traffic=traffic,
                                    reason=reason, run=run_id)
    if fmt == output.TABLE:
        share = "all the traffic" if d.traffic is None else f"{d.traffic:g} of the traffic"
        click.echo(f"Deployment {d.id}: {d.uri} serves in {d.environment} ({share}) since {output.iso(d.since)}")
    else:
        output.emit([deployment_row(d, fmt)], COLUMNS, fmt)


@deployments_group.command("retire")
@click.argument("target")
@click.option("-e", "--environment", default=None, help="Where (needed when TARGET is a model or version).")
@click.option("--reason", default=None)
@project_option
@format_options
@click.pass_obj
def retire(obj, target, environment, reason, project, fmt) -> None:
    """End deployment TARGET (its number), or every deployment of a model or version in --environment."""
    if project is not None and not target.strip().isdigit():
        target = qualified(target, project)
    retired = obj.store.retire_deployment(target, _actor(obj), environment=environment, reason=reason)
    if fmt == output.TABLE:
        for d in retired:
            click.echo(f"Retired deployment {d.id}: {d.uri} in {d.environment} until {output.iso(d.until)}")
    else:
        output.emit([deployment_row(d, fmt) for d in retired], COLUMNS, fmt)


@deployments_group.command("restore")
@click.argument("target")
@click.option("--reason", required=True, help="Why it serves well after all (kept in the audit log).")
@format_options
@click.pass_obj
def restore(obj, target, reason, fmt) -> None:
    """Put degraded deployment TARGET (its number) back to deployed, overriding the monitoring rule."""
    from modeldb_core.registry.deployment import restore_reason

    d = obj.store.restore_deployment(target, restore_reason(reason), _actor(obj))
    if fmt == output.TABLE:
        click.echo(f"Deployment {d.id}: {d.uri} in {d.environment} is {d.state} again ({reason})")
    else:
        output.emit([deployment_row(d, fmt)], COLUMNS, fmt)


@deployments_group.command("show")
@click.argument("target")
@click.option("-m", "--model", default=None, help="Only this model's deployments in the environment.")
@click.option("--at", "at", type=MOMENT, default=None, help="Only what served then (ISO 8601; no zone: UTC).")
@project_option
@format_options
@click.pass_obj
def show(obj, target, model, at, project, fmt) -> None:
    """The history of environment TARGET (which version served when), or one deployment by its number."""
    store = obj.store
    if target.strip().isdigit():
        d = store.get_deployment(target)
        row = deployment_row(d, output.JSON)
        if fmt == output.TABLE:
            output.key_values(f"Deployment {d.id}", {k: v for k, v in row.items() if k != "id"})
        else:
            output.emit([row if fmt == output.JSON else deployment_row(d, fmt)], COLUMNS, fmt)
        return
    found = store.deployments(model=qualified(model, project) if model else None, environment=target, at=at,
                              history=at is None)
    if fmt == output.TABLE:
        click.echo(f"Environment {target}: " + ("what served at " + output.iso(at) if at is not None
                                                 else "every deployment, oldest first"))
    output.emit([deployment_row(d, fmt) for d in found], COLUMNS, fmt,
                empty="Nothing served then." if at is not None else "No deployment recorded.")


def register(cli: click.Group) -> None:
    cli.add_command(deployments_group)
