"""``modeldb runs ...``: list, show, compare, diff, reap; and ``modeldb best``."""
from __future__ import annotations

import sys

import click

from . import output
from .context import RUN_ID
from .output import format_options
from . import hints
from .views import RUN_COLUMNS, run_json, run_summary, short_hash


@click.group("runs")
def runs_group() -> None:
    """List, inspect and compare runs."""


def search_options(fn):
    """--project, --filter, --search: the same selection on every command that lists runs."""
    fn = click.option("--search", "-s", metavar="TEXT",
                      help="Free text over run names, notes and tags.")(fn)
    fn = click.option("--filter", "-f", "filter_", metavar="FILTER",
                      help='e.g. \'metrics.rmse < 0.9 and params.model = "rf"\'.')(fn)
    fn = click.option("--project", "-p", help="Only runs of this project.")(fn)
    return fn


@runs_group.command("list")
@search_options
@click.option("--sort", "-o", "sort", multiple=True, metavar="KEY",
              help="Sort key, e.g. metrics.rmse, -metrics.rmse or 'params.lr desc'; repeat or "
                   "comma-separate for several (missing values last; default newest first).")
@click.option("--group-by", "-g", metavar="FIELD",
              help="Group by a param, tag or run field (params.model, or model when only a param has "
                   "that name) and aggregate metrics per group.")
@click.option("--metric", "-m", "metric_keys", multiple=True, metavar="KEY",
              help="Metric to aggregate per group: rmse or metrics.rmse (default: metrics named in "
                   "--filter/--sort).")
@click.option("--column", "-c", "extra_columns", multiple=True, metavar="FIELD",
              help="Extra column, e.g. params.lr, metrics.rmse, or a bare key such as rmse (fields in "
                   "--filter/--sort are shown).")
@click.option("--limit", "-n", type=int, default=None,
              help="At most this many runs (default 100 for the table, all for --json/--csv; 0 = all).")
@click.option("--cursor", metavar="CURSOR", help="Continue a listing where the previous page ended.")
@format_options
@click.pass_obj
def list_runs(obj, project, filter_, search, sort, group_by, metric_keys, extra_columns, limit,
              cursor, fmt) -> None:
    """List runs matching a filter, sorted, as a table, JSON or CSV.

    \b
    Filter language:
      metrics.rmse < 0.9 and params.model = "rf" and tags.team = "pricing"
      status = "failed" or (phase in ("training", "evaluation") and started >= "2026-11-01")
      params.lr is not null and name like "train%"
    Operators: = != < <= > >= like, not like, in (...), not in (...), is null, is not null,
    and, or, not, parentheses. Params compare as numbers when both sides are numbers.

    When nothing matches, a key no run has or a project that does not exist is
    named on stderr with the closest names that do ("did you mean metrics.rmse?").
    """
    from modeldb_core.query import Field, search_runs, stream_runs

    store = obj.store
    order = list(sort) or None
    query = _query(store, filter_, project, search, order)
    if group_by:
        by = hints.key_field(store, group_by, kinds=("param", "tag", "metric"))
        metrics = [_metric_key(m) for m in metric_keys] or \
            [f.key for f in _named(query) if f.kind == "metric"]
        count = _print_groups(obj, str(by), filter_, project, search, metrics, fmt)
        _explain(store, [by, *(Field("metric", m) for m in metrics), *_named(query)], project,
                 always=bool(metric_keys) or count == 0)
        return
    obj.reap_quietly()
    from .sync import pending_warning

    warning = pending_warning(obj)
    if warning:
        click.echo(warning, err=True)
    extra_fields = [hints.key_field(store, c) for c in extra_columns]
    shown = extra_fields + _named(query)
    columns, extra = _columns(shown)
    if limit is None:
        limit = 100 if fmt == output.TABLE else 0
    if limit < 0:
        raise click.BadParameter("must be 0 (all) or more", param_hint="--limit")
    more = None
    if limit == 0 and not cursor:
        records = stream_runs(filter_, project=project, search=search, order_by=order, store=store)
    else:
        page = search_runs(filter_, project=project, search=search, order_by=order,
                           limit=limit or 1_000_000, cursor=cursor, store=store)
        records, more = page.runs, page.next_cursor
    if fmt == output.JSON:
        rows = (_json_row(r) for r in records)
    else:
        rows = (_row(r, extra, readable=fmt == output.TABLE) for r in records)
    count = output.emit(rows, columns, fmt, empty="No runs match." if (filter_ or search or project)
                        else "No runs.")
    if more and fmt == output.TABLE:
        click.echo(f"(more runs: --limit to show more, or --cursor {more} for the next page)",
                   err=True)
    _explain(store, shown, project, always=bool(extra_fields) or count == 0)


def _query(store, filter_, project, search, order):
    """The parsed query; a bare unknown field in the filter gets the keys it probably meant."""
    from modeldb_core.errors import QueryError
    from modeldb_core.query import build_query

    try:
        return build_query(filter_, project=project, search=search, order_by=order)
    except QueryError as exc:
        raise hints.hint_unknown_field(store, exc) from None


def _explain(store, fields, project, always: bool) -> None:
    """Say on stderr which named keys or project exist nowhere, with what was probably meant.

    Checked when nothing matched, or when the user named columns or metrics
    (a misspelt column is an empty column): one key listing, not one per run.
    """
    if not always:
        return
    notes = [hints.unknown_project(store, project)] + hints.unknown_keys(store, fields)
    for note in filter(None, notes):
        click.echo(f"Note: {note}.", err=True)


def _metric_key(text: str) -> str:
    """``rmse`` or ``metrics.rmse`` -> ``rmse``; another kind of field is a usage error."""
    from modeldb_core.query.language import parse_field

    text = text.strip()
    if "." not in text and '"' not in text:
        return text
    field = parse_field(text)
    if field.kind != "metric":
        raise click.BadParameter(f"{text!r} is not a metric; write a metric name such as rmse or "
                                 "metrics.rmse", param_hint="--metric")
    return field.key


def _named(query) -> list:
    from modeldb_core.query.language import fields_of

    named = fields_of(query.filter) + [k.field for k in query.order]
    return list(dict.fromkeys(f for f in named if f.kind != "attr" or f.key not in _BASE_ATTRS))


_BASE_ATTRS = {"id", "project", "name", "phase", "status", "started", "duration"}


def _columns(fields) -> tuple[list[str], list]:
    extra = list(dict.fromkeys(fields))
    return RUN_COLUMNS + [str(f) for f in extra], extra


def _row(record, extra, readable: bool = True) -> dict:
    row = run_summary(record.run, readable=readable)
    for f in extra:
        value = record.value(f)
        if f.kind == "attr" and f.attribute.type == "time":
            value = output.timestamp(value)
        elif readable and f.kind == "attr" and f.key == "duration":
            value = output.duration(value)
        row[str(f)] = value
    return row


def _json_row(record) -> dict:
    return run_json(record.run, params=record.params, metrics=record.metrics, tags=record.tags)


def _print_groups(obj, group_by, filter_, project, search, metrics, fmt) -> int:
    from modeldb_core.query import group_runs

    groups = group_runs(group_by, filter_, metrics=metrics, project=project, search=search,
                        store=obj.store)
    columns = [group_by, "runs"]
    for key in metrics:
        columns += [f"{key}.count", f"{key}.min", f"{key}.max", f"{key}.mean"]
    return output.emit((g.to_dict(group_by) for g in groups), columns, fmt, empty="No runs match.")


@runs_group.command("show")
@click.argument("run_id", type=RUN_ID)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def show_run(obj, run_id: str, as_json: bool) -> None:
    """Everything recorded about one run."""
    from modeldb_core.query.detail import run_detail

    view = run_detail(obj.store, run_id)
    if as_json:
        click.echo(output.dumps(view, indent=2))
        return
    print_detail(view)


def print_detail(view: dict, out=None) -> None:
    """A run's detail (``modeldb_core.query.detail``, what ``--json`` prints) as blocks of
    ``key  value`` lines, every block's values on one column."""
    out = out or sys.stdout
    run = view["run"]
    w = out.write
    fields = {
        "project": run["project"], "phase": run["phase"], "status": run["status"],
        "started": output.timestamp(run["started_at"]) + " UTC",
        "ended": output.timestamp(run["ended_at"]) + " UTC" if run["ended_at"] is not None else None,
        "duration": output.duration(run["duration"]) or None,
        "orchestrator": run["orchestrator"], "external id": run["external_id"],
        "try": run["try_number"], "pipeline run": run["pipeline_run_id"], "parent run": run["parent_run_id"],
        "user": run["user"], "host": run["host"], "pid": run["pid"],
    }
    blocks: list[tuple[str, dict]] = [("Run", {k: v for k, v in fields.items() if v not in (None, "")})]
    if view["children"]:
        more = view["children_total"] - len(view["children"])
        blocks.append(("Children", {"runs": ", ".join(str(c["id"]) for c in view["children"])
                                    + (f" and {more:,} more" if more else "")}))
    blocks.append(("Params", view["params"]))
    metrics = {}
    for key, value in view["metrics"].items():
        steps = view["series"].get(key, 0)
        metrics[key] = output.cell(value) + (f"   ({steps} steps)" if steps > 1 else "")
    blocks.append(("Metrics (latest)", metrics))
    blocks.append(("Tags", view["tags"]))
    for title, ios in (("Inputs", view["inputs"]), ("Outputs", view["outputs"])):
        rows = {}
        for io in ios:
            size = f", {io['size']:,} bytes" if io["size"] is not None else ""
            name = io["name"] or io["kind"]
            while name in rows:  # two unnamed inputs of one kind keep a line each
                name += "'"
            rows[name] = (f"{io['uri']}  [{io['kind']}] {io['short_hash']}{size}  "
                          f"(artifact version {io['artifact_version_id']})")
        blocks.append((title, rows))
    code = view["code_version"]
    if code:
        values = {"git commit": code["git_commit"], "branch": code["git_branch"],
                  "dirty": code["git_dirty"], "diff hash": short_hash(code["git_diff_hash"]) or None,
                  "repo": code["repo_path"], "file": code["source_file"], "function": code["function"],
                  "source hash": short_hash(code["source_hash"]) or None}
        blocks.append(("Code version", {k: v for k, v in values.items() if v is not None}))
    env = view["environment"]
    if env:
        blocks.append(("Environment", {"python": env["python_version"], "platform": env["platform"],
                                       "packages": f"{len(env['packages'])} installed"}))
    keys = [str(k) for _, values in blocks for k in values]
    width = min(max(map(len, keys), default=0), output.MAX_KEY)
    w(f"Run {run['id']}: {run['name']}\n")
    for title, values in blocks:
        output.key_values(title, values, out, width=width)
        if title == "Tags" and view["notes"]:
            w("\nNotes\n")
            for note in view["notes"]:
                w(f"  [{output.timestamp(note['created_at'])} UTC] {note['text']}\n")
    error = view["error"]
    if error:
        w("\nError\n")
        w(f"  {error['type'] or 'Error'}: {error['message'] or ''}\n")
        if error["traceback"]:
            for line in error["traceback"].rstrip().splitlines():
                w(f"    {line}\n")
    reproduction = view["reproduction"] or {}
    of = reproduction.get("reproduces")
    if of is not None:
        output.key_values("Reproduces", {"run": of["run_id"], "verdict": of["verdict"] or "not compared yet"}, out)
    if reproduction.get("reproductions"):
        output.key_values("Reproductions", {r["run_id"]: r["verdict"] or "not compared yet"
                                            for r in reproduction["reproductions"]}, out)


@runs_group.command("compare")
@click.argument("run_ids", type=RUN_ID, nargs=-1, required=True)
@click.option("--all", "show_all", is_flag=True, help="Show every row, not only those that differ.")
@format_options
@click.pass_obj
def compare_runs(obj, run_ids, show_all, fmt) -> None:
    """Runs side by side: params, metrics, code, packages, inputs (rows that differ).

    The same comparison as the web's /compare page and /api/compare
    (``modeldb_core.query.compare``): with --json, the same data.
    """
    from modeldb_core.query.compare import compare_in

    if len(run_ids) < 2:
        raise click.UsageError("give at least two run ids to compare")
    comparison = compare_in(obj.store, run_ids)
    if fmt == output.JSON:
        click.echo(output.dumps(comparison.as_dict(only_differences=not show_all), indent=2))
        return
    rows = comparison.rows if show_all else comparison.differing()
    heads = [f"run {i}" for i in comparison.run_ids]
    table = []
    for r in rows:
        row = {"section": r.section, "key": r.key}
        row.update({h: ("-" if v is None else v) for h, v in zip(heads, r.texts())})
        table.append(row)
    output.emit(table, ["section", "key", *heads], fmt,
                empty="The runs do not differ." if not show_all else "Nothing recorded.")


@runs_group.command("diff")
@click.argument("run_a", type=RUN_ID)
@click.argument("run_b", type=RUN_ID)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def diff_runs(obj, run_a: int, run_b: int, as_json: bool) -> None:
    """What changed from run A to run B, in the style of a code diff."""
    from modeldb_core.query.compare import diff

    a, b = obj.store.get_run_detail(run_a), obj.store.get_run_detail(run_b)
    changes = diff(a, b)
    if as_json:
        click.echo(output.dumps({"a": run_a, "b": run_b, "changes": [
            {"section": c.section, "key": c.key, "change": c.kind, "old": c.old, "new": c.new}
            for c in changes]}, indent=2))
        return
    click.secho(f"--- run {run_a} ({a.run.name})", bold=True)
    click.secho(f"+++ run {run_b} ({b.run.name})", bold=True)
    if not changes:
        click.echo("(no differences in params, metrics, code, packages or data)")
        return
    section = None
    for c in changes:
        if c.section != section:
            section = c.section
            click.secho(f"@@ {section} @@", fg="cyan")
        if c.kind in ("removed", "changed"):
            click.secho(f"-{c.key}: {output.cell(c.old)}", fg="red")
        if c.kind in ("added", "changed"):
            click.secho(f"+{c.key}: {output.cell(c.new)}", fg="green")


@runs_group.command("reap")
@click.pass_obj
def reap_runs(obj) -> None:
    """Mark runs whose process died as killed."""
    dead = obj.client.reap()
    if dead:
        click.echo(f"Marked {len(dead)} run(s) as killed: {', '.join(map(str, dead))}")
    else:
        click.echo("No dead runs found.")


@click.command("best")
@click.option("--metric", "-m", required=True, help="The metric to rank by: rmse or metrics.rmse.")
@click.option("--max", "maximize", is_flag=True, help="Higher is better (default: lower is better).")
@search_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def best(obj, metric, maximize, project, filter_, search, as_json) -> None:
    """The run with the best latest value of a metric."""
    from modeldb_core.query import Field, best_run

    if search:
        raise click.UsageError("best takes --filter and --project, not --search")
    from modeldb_core.models_view import canonical_metric, metric_spellings

    key = _metric_key(metric)
    store = obj.store
    query = _query(store, filter_, project, None, None)
    # Every spelling of the metric competes (rmse and scikit-learn's root_mean_squared_error).
    found = None
    for spelling in metric_spellings(key):
        candidate = best_run(spelling, maximize=maximize, filter=filter_, project=project, store=store)
        if candidate is not None and (found is None or _better(candidate.metrics[spelling],
                                                               _value(found, key), maximize)):
            found = candidate
    if found is None:
        notes = [hints.unknown_project(store, project)]
        notes += hints.unknown_keys(store, [Field("metric", key), *_named(query)])
        why = "; ".join(filter(None, notes))
        if why:
            raise click.ClickException(why)
        raise click.ClickException(f"no run has a value for metric {key!r}"
                                   + (" matching the filter" if filter_ or project else ""))
    # An evaluation's params are file paths: the model it judged was made by another run,
    # whose params are the ones that explain the value (docs/models.md).
    trainer = _training_run(store, found)
    if as_json:
        row = _json_row(found)
        if trainer is not None:
            row["training_run"] = _json_row(trainer)
        click.echo(output.dumps(row, indent=2))
        return
    way = "highest" if maximize else "lowest"
    click.echo(f"Best run by {canonical_metric(key)} ({way}): run {found.id} {found.name} "
               f"[{found.project}] {key}={output.cell(_value(found, key))}")
    params = found.params
    if trainer is not None:
        click.echo(f"Model trained by run {trainer.id} {trainer.name}: params are the training run's")
        params = trainer.params
    width = min(max(map(len, [*params, *found.metrics]), default=0), output.MAX_KEY)
    output.key_values("Params", params, width=width)
    output.key_values("Metrics", found.metrics, width=width)


def _value(record, key: str) -> float | None:
    """The record's value of metric ``key`` under whichever spelling it logged."""
    from modeldb_core.models_view import metric_spellings

    for spelling in metric_spellings(key):
        if spelling in record.metrics:
            return record.metrics[spelling]
    return None


def _better(value: float, than: float | None, maximize: bool) -> bool:
    return than is None or (value > than if maximize else value < than)


def _training_run(store, record):
    """The run that trained the model ``record`` evaluated, if it evaluated exactly one."""
    from modeldb_core.models_view import training_runs

    if record.project is None:
        return None
    return training_runs(store, record.project, among=[str(record.id)]).get(str(record.id))


def register(cli: click.Group) -> None:
    from .trained import models

    runs_group.add_command(models)
    cli.add_command(runs_group)
    cli.add_command(best)
