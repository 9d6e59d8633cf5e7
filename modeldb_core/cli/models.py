"""``modeldb models ...``, ``modeldb audit ...`` and ``modeldb report``: the model registry."""
from __future__ import annotations

import sys
from datetime import datetime, timezone

import click

from . import output
from .output import format_options


class Moment(click.ParamType):
    """An ISO 8601 time (``2026-11-01T12:00``; no zone given means UTC) as POSIX seconds."""

    name = "TIME"

    def convert(self, value, param, ctx):
        if isinstance(value, float):
            return value
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 time such as 2026-11-01T12:00 or 2026-11-01T12:00+01:00",
                      param, ctx)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return moment.timestamp()


MOMENT = Moment()

# Model names are unique per project: a name several projects hold needs its project,
# given here or in the reference (models:/project/name@alias).
project_option = click.option("-p", "--project", default=None,
                              help="The model's project (needed when several projects hold its name).")


def qualified(ref: str, project: str | None) -> str:
    """``ref`` (a model, name/N, name@alias or models:/ URI) with ``project``, as the store takes it."""
    from modeldb_core.registry import names

    return str(names.qualify(names.parse(ref), project))


def _actor(obj) -> str:
    from modeldb_core.registry import actor

    return actor(obj.client.settings)


def _version_row(v, fmt: str) -> dict:
    if fmt == output.JSON:
        return {"model": v.model, "version": v.version, "uri": v.uri, "aliases": v.aliases, "run": v.run_id,
                "artifact": v.artifact_uri, "content_hash": v.content_hash, "metrics": v.metrics,
                "inputs": [uri for _, uri, _ in v.inputs], "created_by": v.created_by,
                "created_at": output.iso(v.created_at), "description": v.description}
    return {"version": v.version, "aliases": ", ".join(v.aliases), "run": (v.run_id or "")[-8:],
            "metrics": ", ".join(f"{k}={output.cell(m)}" for k, m in sorted(v.metrics.items())),
            "created by": v.created_by, "created": output.timestamp(v.created_at), "artifact": v.artifact_uri}


VERSION_COLUMNS = ["version", "aliases", "run", "metrics", "created by", "created", "artifact"]


def _move_row(m, fmt: str) -> dict:
    row = {"alias": m.alias, "from": m.from_version, "to": m.to_version, "actor": m.actor,
           "at": output.iso(m.at) if fmt == output.JSON else output.timestamp(m.at),
           "forced": m.forced, "reason": m.reason}
    if fmt == output.JSON:
        row["evidence"] = m.evidence
        row["uri"] = m.uri  # which model: two projects may hold the name
    return row


@click.group("models")
def models_group() -> None:
    """The model registry: models, versions, aliases, promotion (docs/registry.md)."""


@models_group.command("list")
@click.option("-p", "--project", default=None, help="Only the models of this project.")
@format_options
@click.pass_obj
def list_models(obj, project, fmt) -> None:
    """Registered models with their aliases and newest version."""
    rows = []
    for m in obj.store.list_models(project=project):
        aliases = {a: v for a, v in m.aliases.items()}
        if fmt == output.JSON:
            rows.append({"name": m.name, "project": m.project, "owner": m.owner, "latest_version": m.latest_version,
                         "aliases": aliases, "description": m.description, "created_at": output.iso(m.created_at)})
        else:
            rows.append({"name": m.name, "latest": m.latest_version, "aliases": ", ".join(
                f"{a}=v{v}" for a, v in aliases.items()), "owner": m.owner, "project": m.project})
    output.emit(rows, ["name", "latest", "aliases", "owner", "project"], fmt, empty="No registered models.")


@models_group.command("show")
@click.argument("ref")
@click.option("--at", "at", type=MOMENT, default=None,
              help="What an alias pointed at then (ISO 8601; no zone: UTC).")
@project_option
@format_options
@click.pass_obj
def show(obj, ref, at, project, fmt) -> None:
    """A model (REF: name) with its versions, or one version (name/N, name@alias, models:/...)."""
    from modeldb_core.registry import names

    parsed = names.qualify(names.parse(ref), project)
    store = obj.store
    if parsed.version is None and parsed.alias is None:
        model = store.get_model(parsed.name, project=parsed.project)
        versions = store.model_versions(model.name, project=model.project)
        if fmt == output.TABLE:
            output.key_values(f"Model {model.name}", {
                "owner": model.owner, "project": model.project, "description": model.description,
                "aliases": ", ".join(f"{a}=v{v}" for a, v in model.aliases.items()), **model.card})
            sys.stdout.write("\n")
        output.emit([_version_row(v, fmt) for v in versions], VERSION_COLUMNS, fmt, empty="No versions.")
        return
    version = store.resolve_model(str(parsed), at=at)
    row = _version_row(version, output.JSON)
    if fmt == output.TABLE:
        output.key_values(version.uri, {k: v for k, v in row.items() if k not in ("metrics", "inputs")})
        output.key_values("Metrics", version.metrics)
        output.key_values("Input data", {str(i): uri for i, (_, uri, _) in enumerate(version.inputs, 1)})
    else:
        output.emit([row] if fmt == output.JSON else [_version_row(version, fmt)],
                    list(row) if fmt == output.JSON else VERSION_COLUMNS, fmt)


@models_group.command("register")
@click.argument("name")
@click.option("--artifact", required=True, help="The model file (path or URI) to register.")
@click.option("--run", "run_id", default=None, help="The run that made it.")
@click.option("--description", default=None)
@click.option("-p", "--project", default=None,
              help="The model's project (default: the run's, else the one project holding NAME, else "
                   "'default').")
@format_options
@click.pass_obj
def register_version(obj, name, artifact, run_id, description, project, fmt) -> None:
    """Register ARTIFACT as the next version of NAME (the same content again: its version)."""
    from modeldb_core.fingerprint import fingerprint

    version = obj.store.register_model_version(name, fingerprint(artifact, kind="model"), _actor(obj),
                                               run=run_id, description=description, project=project)
    if fmt == output.TABLE:
        click.echo(f"Registered {version.uri} ({version.content_hash})")
    else:
        output.emit([_version_row(version, fmt)], VERSION_COLUMNS if fmt == output.CSV else [], fmt)


@models_group.command("update")
@click.argument("name")
@click.option("--description", default=None)
@click.option("--owner", default=None)
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Set a tag (repeatable).")
@click.option("--intended-use", default=None, help="Model card: what it is for.")
@click.option("--limitations", default=None, help="Model card: where it must not be relied on.")
@click.option("--training-data", default=None, help="Model card: a summary of the training data.")
@click.option("--ethical-considerations", default=None, help="Model card: fairness, privacy, harms.")
@click.option("--risk-tier", default=None, help="Model card: the risk tier (e.g. SR 11-7 tier 1).")
@click.option("--reason", default=None)
@project_option
@click.pass_obj
def update(obj, name, description, owner, tags, reason, project, **card) -> None:
    """Set a model's description, owner, tags and model-card fields (audited before/after)."""
    from modeldb_core.errors import ValidationError

    store = obj.store
    model = store.get_model(name, project=project)
    changes: dict = {}
    if description is not None:
        changes["description"] = description
    if owner is not None:
        changes["owner"] = owner
    if tags:
        pairs = dict(model.tags)
        for tag in tags:
            key, sep, value = tag.partition("=")
            if not sep:
                raise ValidationError("--tag", tag, "must read KEY=VALUE")
            pairs[key] = value
        changes["tags"] = pairs
    given = {k: v for k, v in card.items() if v is not None}
    if given:
        changes["card"] = {**model.card, **given}
    if not changes:
        raise click.UsageError("nothing to change: give at least one option")
    store.update_model(model.name, _actor(obj), reason=reason, project=model.project, **changes)
    click.echo(f"Updated {model.uri}")


def _moved(move, fmt: str) -> None:
    if fmt == output.TABLE:
        held = f"v{move.from_version}" if move.from_version is not None else "nothing"
        click.echo(f"{move.uri} now v{move.to_version} (was {held})"
                   + (" -- FORCED" if move.forced else ""))
        for verdict in move.evidence.get("verdicts", []):
            click.echo(f"  {'passed' if verdict['passed'] else 'FAILED'}  {verdict['rule']}: {verdict['detail']}")
    else:
        output.emit([_move_row(move, fmt)], ["alias", "from", "to", "actor", "at", "forced", "reason"], fmt)


def _promote_command(command_name: str, doc: str):
    @models_group.command(command_name, help=doc)
    @click.argument("ref")
    @click.argument("alias")
    @click.option("--reason", default=None, help="Why (kept in the alias history and the audit log).")
    @click.option("--force", is_flag=True, help="Move it even if a rule of the policy fails (needs --reason).")
    @project_option
    @format_options
    @click.pass_obj
    def move(obj, ref, alias, reason, force, project, fmt) -> None:
        _moved(obj.store.promote(qualified(ref, project), alias, _actor(obj), reason=reason, force=force), fmt)
    return move


_promote_command("promote", "Point ALIAS at the version REF names if the alias's policy allows it; the "
                            "evidence (values compared, approvals, holder replaced) is kept with the move.")
_promote_command("alias", "Point ALIAS at the version REF names (the same rules as promote: an alias "
                          "with a policy is only moved when it passes, or --force with --reason).")


@models_group.command("approve")
@click.argument("ref")
@click.argument("alias")
@click.option("--reason", default=None)
@project_option
@click.pass_obj
def approve(obj, ref, alias, reason, project) -> None:
    """Approve the version REF names for ALIAS (as the configured identity, else the OS user)."""
    done = obj.store.approve(qualified(ref, project), alias, _actor(obj), reason=reason)
    click.echo(f"{done.actor} approved {done.version_uri} for {done.alias!r}")


@models_group.command("history")
@click.argument("name")
@click.option("--alias", default=None, help="Only this alias.")
@project_option
@format_options
@click.pass_obj
def history(obj, name, alias, project, fmt) -> None:
    """Every move of the model's aliases: from, to, who, when, why."""
    moves = obj.store.alias_history(name, alias, project=project)
    output.emit([_move_row(m, fmt) for m in moves], ["at", "alias", "from", "to", "actor", "forced", "reason"],
                fmt, empty="No alias was ever set.")


@models_group.command("policy")
@click.argument("name")
@click.argument("alias")
@click.option("--threshold", "thresholds", multiple=True, help="A metric bound, e.g. 'rmse <= 30' (repeatable).")
@click.option("--beat", default=None, metavar="METRIC[:min|max]",
              help="Must beat the current holder on METRIC (lower with min, the default).")
@click.option("--approvals", type=click.IntRange(0), default=0, help="Approvals needed.")
@click.option("--approver", "approvers", multiple=True, help="Who may approve (repeatable; default anyone).")
@click.option("--evaluation-dataset", default=None, help="An evaluation run must have read the model and this data.")
@click.option("--reason", default=None)
@project_option
@click.pass_obj
def policy(obj, name, alias, thresholds, beat, approvals, approvers, evaluation_dataset, reason, project) -> None:
    """Set the promotion policy of NAME's ALIAS (no rule given: remove every rule)."""
    rules: dict = {}
    if thresholds:
        rules["thresholds"] = list(thresholds)
    if beat:
        metric, _, goal = beat.partition(":")
        rules["beat_holder"] = {"metric": metric, "goal": goal or "min"}
    if approvals:
        rules["approvals"] = {"count": approvals, "approvers": list(approvers)}
    if evaluation_dataset:
        rules["evaluation"] = {"dataset": evaluation_dataset}
    stored = obj.store.set_policy(name, alias, rules, _actor(obj), reason=reason, project=project)
    click.echo(f"Policy of models:/{name}@{alias}: {output.dumps(stored)}")


@click.group("audit")
def audit_group() -> None:
    """The append-only, hash-chained audit log of the registry."""


@audit_group.command("list")
@click.option("-m", "--model", default=None, help="Only events about this model (name or models:/ URI).")
@click.option("-n", "--limit", type=click.IntRange(1), default=None, help="At most this many (oldest first).")
@project_option
@format_options
@click.pass_obj
def audit_list(obj, model, limit, project, fmt) -> None:
    """Audit events, oldest first: when, who, what, on what, why."""
    store = obj.store
    events = store.audit_events(qualified(model, project), limit=limit) if model else store.iter_audit()

    def rows():
        for i, e in enumerate(events):
            if limit is not None and i >= limit:
                return
            if fmt == output.JSON:
                yield {"id": e.id, "at": output.iso(e.at), "actor": e.actor, "action": e.action, "subject": e.subject,
                       "before": e.before, "after": e.after, "reason": e.reason, "prev_hash": e.prev_hash,
                       "hash": e.hash}
            else:
                yield {"id": e.id, "at": output.timestamp(e.at), "actor": e.actor, "action": e.action,
                       "subject": e.subject, "reason": e.reason or "", "hash": e.hash[:12]}
    output.emit(rows() if fmt != output.TABLE else list(rows()),
                ["id", "at", "actor", "action", "subject", "reason", "hash"], fmt, empty="No audit events.")


@audit_group.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def audit_verify(obj, as_json) -> None:
    """Check the hash chain; exit status 1 naming the first broken event."""
    check = obj.store.verify_audit()
    if as_json:
        click.echo(output.dumps({"ok": check.ok, "checked": check.checked, "broken_at": check.broken_at,
                                 "problem": check.problem}))
    elif check.ok:
        click.echo(f"OK: {check.checked} audit events, the chain holds.")
    else:
        click.echo(f"BROKEN: {check.problem} ({check.checked} events before it hold)", err=True)
    if not check.ok:
        sys.exit(1)


@click.command("report")
@click.argument("ref")
@click.option("--format", "fmt", type=click.Choice(["md", "json", "html"]), default="md", show_default=True)
@click.option("--at", "at", type=MOMENT, default=None, help="Resolve an alias as it was then.")
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to this file instead of standard output.")
@project_option
@click.pass_obj
def report(obj, ref, fmt, at, out, project) -> None:
    """The provenance report of the version REF names: card, run, code, environment, params,
    metrics, input data and its upstream lineage, evidence, approvals, alias history, audit."""
    from modeldb_core.registry import report as reports

    text = reports.render(reports.build(obj.store, qualified(ref, project), at=at), fmt)
    if out:
        with open(out, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        click.echo(text)


def register(cli: click.Group) -> None:
    cli.add_command(models_group)
    cli.add_command(audit_group)
    cli.add_command(report)
