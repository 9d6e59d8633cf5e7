"""``modeldb runs ...``: list, show, compare, diff, reap; and ``modeldb best``."""
from __future__ import annotations

import sys

import click

from . import output
from .output import format_options
from .views import RUN_COLUMNS, detail_dict, run_summary, short_hash


@click.group("runs")
def runs_group() -> None:
    """List, inspect and compare runs."""


@runs_group.command("list")
@click.option("--project", "-p", help="Only runs of this project.")
@click.option("--limit", "-n", type=int, default=None,
              help="At most this many runs (default 100 for the table, all for --json/--csv; 0 = all).")
@format_options
@click.pass_obj
def list_runs(obj, project, limit, fmt) -> None:
    """List runs, newest first."""
    obj.reap_quietly()
    if limit is None:
        limit = 100 if fmt == output.TABLE else 0
    runs = obj.store.list_runs(project=project, limit=limit or 10**12)
    output.emit((run_summary(r) for r in runs), RUN_COLUMNS, fmt, empty="No runs.")


@runs_group.command("show")
@click.argument("run_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def show_run(obj, run_id: int, as_json: bool) -> None:
    """Everything recorded about one run."""
    detail = obj.store.get_run_detail(run_id)
    if as_json:
        click.echo(output.dumps(detail_dict(detail), indent=2))
        return
    print_detail(detail)


def print_detail(detail, out=None) -> None:
    out = out or sys.stdout
    run = detail.run
    w = out.write
    w(f"Run {run.id}: {run.name}\n")
    fields = {
        "project": run.project, "phase": run.phase, "status": run.status,
        "started": output.timestamp(run.started_at), "ended": output.timestamp(run.ended_at),
        "duration (s)": round(run.duration, 3) if run.duration is not None else None,
        "orchestrator": run.orchestrator, "external id": run.external_id,
        "try": run.try_number, "pipeline run": run.pipeline_run_id, "parent run": run.parent_run_id,
        "user": run.user, "host": run.host, "pid": run.pid,
    }
    output.key_values("Run", {k: v for k, v in fields.items() if v not in (None, "")}, out)
    if detail.children:
        output.key_values("Children", {"runs": ", ".join(map(str, detail.children))}, out)
    output.key_values("Params", detail.params, out)
    if detail.metrics:
        metrics = {}
        for key, value in detail.metrics.items():
            steps = len(detail.metric_history.get(key, []))
            metrics[key] = output.cell(value) + (f"   ({steps} steps)" if steps > 1 else "")
        output.key_values("Metrics (latest)", metrics, out)
    output.key_values("Tags", detail.tags, out)
    if detail.notes:
        w("\nNotes\n")
        for note in detail.notes:
            w(f"  [{output.timestamp(note.created_at)}] {note.text}\n")
    for title, ios in (("Inputs", detail.inputs), ("Outputs", detail.outputs)):
        if ios:
            w(f"\n{title}\n")
            for io in ios:
                a = io.artifact
                name = f"{io.name}: " if io.name else ""
                size = f", {a.size} bytes" if a.size is not None else ""
                w(f"  {name}{a.uri}  [{a.kind}] {a.content_hash}{size}"
                  f"  (artifact version {a.id})\n")
    code = detail.code_version
    if code:
        values = {"git commit": code.git_commit, "branch": code.git_branch,
                  "dirty": code.git_dirty, "diff hash": short_hash(code.git_diff_hash) or None,
                  "repo": code.repo_path, "file": code.source_file, "function": code.function,
                  "source hash": short_hash(code.source_hash) or None}
        output.key_values("Code version", {k: v for k, v in values.items() if v is not None}, out)
    env = detail.environment
    if env:
        output.key_values("Environment", {"python": env.python_version, "platform": env.platform,
                                          "packages": f"{len(env.packages)} installed"}, out)
    if run.error_type or run.error_message:
        w("\nError\n")
        w(f"  {run.error_type or 'Error'}: {run.error_message or ''}\n")
        if run.error_traceback:
            for line in run.error_traceback.rstrip().splitlines():
                w(f"    {line}\n")


@runs_group.command("reap")
@click.pass_obj
def reap_runs(obj) -> None:
    """Mark runs whose process died as killed."""
    dead = obj.client.reap()
    if dead:
        click.echo(f"Marked {len(dead)} run(s) as killed: {', '.join(map(str, dead))}")
    else:
        click.echo("No dead runs found.")


def register(cli: click.Group) -> None:
    cli.add_command(runs_group)
