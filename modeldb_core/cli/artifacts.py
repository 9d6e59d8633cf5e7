"""``modeldb artifacts list/show``: the data and models runs read and wrote."""
from __future__ import annotations

import click

from . import output
from .output import format_options
from .views import artifact_dict, short_hash


@click.group("artifacts")
def artifacts_group() -> None:
    """Artifacts (files, tables, models, values) and their versions."""


@artifacts_group.command("list")
@click.option("--search", "-s", metavar="TEXT", help="Only artifacts whose URI contains TEXT.")
@click.option("--kind", "-k", help="Only artifacts of this kind (file, table, model, value...).")
@click.option("--limit", "-n", type=click.IntRange(1, 1_000_000), default=100, show_default=True)
@format_options
@click.pass_obj
def list_artifacts(obj, search, kind, limit, fmt) -> None:
    """Artifacts, newest version first."""
    rows = []
    for a in obj.store.list_artifacts(search=search, kind=kind, limit=limit):
        if fmt == output.JSON:
            rows.append(output.iso_times(a))
        else:
            rows.append({"id": a["id"], "kind": a["kind"], "uri": a["uri"], "versions": a["versions"],
                         "latest version": a["latest_version_id"],
                         "hash": short_hash(a["content_hash"]), "size": a["size"],
                         "updated": output.timestamp(a["created_at"])})
    output.emit(rows, ["id", "kind", "uri", "versions", "latest version", "hash", "size", "updated"],
                fmt, empty="No artifacts.")


@artifacts_group.command("show")
@click.argument("artifact", metavar="VERSION_ID_OR_URI_OR_HASH")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def show_artifact(obj, artifact: str, as_json: bool) -> None:
    """An artifact's versions, and the runs that wrote and read each one.

    Give an artifact version id (or artifact:ID), a URI or a path (all its versions), or a content
    hash or any unique prefix of it (the 12 characters ``artifacts list`` prints).
    """
    store = obj.store
    text = artifact.strip()
    if text.startswith("artifact:"):
        text = text.split(":", 1)[1]
    if text.isdigit():
        from modeldb_core.validation import record_id

        versions = [store.get_artifact_version(record_id("artifact id", text))]
    else:
        from .lookup import artifact_versions

        versions = artifact_versions(store, text)
    uses: dict[int, list[dict]] = {}
    for use in store.artifact_uses([v.id for v in versions]):
        uses.setdefault(use["artifact_version_id"], []).append(use)
    if as_json:
        click.echo(output.dumps([{**artifact_dict(v), "runs": [output.iso_times(u) for u in uses.get(v.id, [])]}
                                 for v in versions], indent=2))
        return
    for v in versions:
        click.echo(f"Artifact version {v.id}: {v.uri}")
        fields = {"kind": v.kind, "content hash": v.content_hash, "size": v.size,
                  "fingerprint": v.fingerprint_method, "recorded": output.timestamp(v.created_at),
                  "artifact id": v.artifact_id}
        output.key_values("Version", {k: x for k, x in fields.items() if x is not None})
        if v.metadata:
            output.key_values("Metadata", v.metadata)
        written = [u for u in uses.get(v.id, []) if u["direction"] == "output"]
        read = [u for u in uses.get(v.id, []) if u["direction"] == "input"]
        for title, items in (("Written by", written), ("Read by", read)):
            if items:
                click.echo(f"\n{title}")
                for u in items:
                    name = f" as {u['name']}" if u["name"] else ""
                    click.echo(f"  run {u['run_id']} {u['run_name']} ({u['status']}){name}")
        click.echo("")


def register(cli: click.Group) -> None:
    cli.add_command(artifacts_group)
