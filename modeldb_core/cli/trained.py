"""``modeldb runs models``: the models table (one row per trained model, docs/models.md) in a terminal.

The same table as the web's ``/projects/NAME/trained`` (``modeldb_core.models_table``):
training params, metrics of the model (its evaluations' included, names aligned),
filter, search, sort and group.
"""
from __future__ import annotations

import click

from . import hints, output
from .output import format_options


def _project(store, project: str | None) -> str:
    """The project asked for, or the only one there is; an unknown name gets the closest ones."""
    names = sorted(p.name for p in store.list_projects())
    if project is None:
        if len(names) == 1:
            return names[0]
        raise click.UsageError("name a project with --project (-p)"
                               + (f": one of {', '.join(names)}" if names else ": the store has none yet"))
    problem = hints.unknown_project(store, project)
    if problem:
        raise click.ClickException(problem)
    return project


def _row(model, params: list[str], metrics: list[str], readable: bool) -> dict:
    row = model.as_dict()
    out = {"model": row["model"], "model_type": row["model_type"],
           "training_run": row["training_run"] if not readable else str(row["training_run"])[-12:],
           "training_data": " ".join(row["training_data"])}
    out.update({f"params.{p}": model.params.get(p) for p in params})
    out.update({f"metrics.{m}": model.metrics.get(m) for m in metrics})
    out["evaluations"] = len(row["evaluation_runs"])
    out["notes"] = " / ".join(row["notes"])
    out["model_file"] = row["model_file"]
    out["trained_at"] = output.timestamp(row["trained_at"]) if readable else output.iso(row["trained_at"])
    return out


@click.command("models")
@click.option("--project", "-p", help="The project (may be left out when the store has one).")
@click.option("--filter", "-f", "filter_", metavar="FILTER",
              help="e.g. 'metrics.rmse < 30 and params.learning_rate >= 0.05': params are the training "
                   "run's, metrics the model's (aligned names).")
@click.option("--search", "-s", metavar="TEXT", help="Free text over names, type, notes, params and tags.")
@click.option("--sort", "-o", "sort", metavar="KEY",
              help="e.g. metrics.rmse or -params.epochs (default: the main metric, best first).")
@click.option("--group-by", "-g", metavar="FIELD", help="Group by a param or tag: params.learning_rate.")
@click.option("--column", "-c", "columns", multiple=True, metavar="FIELD",
              help="A param or metric column (params.lr, metrics.mae, or a bare key); default: the "
                   "params that vary and the main metric first.")
@click.option("--limit", "-n", type=int, default=None,
              help="At most this many models, up to 1,000 (default 100 for the table, all for --json/--csv; 0 = all).")
@click.option("--cursor", metavar="CURSOR", help="Continue where the previous page ended.")
@format_options
@click.pass_obj
def models(obj, project, filter_, search, sort, group_by, columns, limit, cursor, fmt) -> None:
    """One row per trained model: training data, type, the params that vary, metrics.

    A model is what a training run wrote (or any artifact of kind model); the
    runs that read it are its evaluations, and their metrics are the model's.
    """
    from modeldb_core.errors import QueryError
    from modeldb_core.models_table import PAGE_SIZE, models_table

    store = obj.store
    name = _project(store, project)
    chosen = [hints.key_field(store, c, kinds=("param", "metric")) for c in columns]
    group = str(hints.key_field(store, group_by, kinds=("param", "tag"))) if group_by else ""
    if limit is None:
        limit = PAGE_SIZE if fmt == output.TABLE else 0
    if limit < 0:
        raise click.BadParameter("must be 0 (all) or more", param_hint="--limit")
    try:
        table = models_table(store, name, filter=filter_ or "", q=search or "", order=sort or "",
                             group=group, params=[f.key for f in chosen if f.kind == "param"],
                             metrics=[f.key for f in chosen if f.kind == "metric"],
                             limit=limit or None, cursor=cursor)
    except QueryError as exc:
        raise hints.hint_unknown_field(store, exc) from None
    if table.groups is not None:
        main = table.main_metric or "metric"
        rows = [{group: g["value"], "models": g["models"], f"{main}.best":
                 g.get("min" if table.goal == "min" else "max"), f"{main}.mean": g.get("mean"),
                 "best_model": g.get("best_model")} for g in table.groups]
        output.emit(rows, [group, "models", f"{main}.best", f"{main}.mean", "best_model"], fmt,
                    empty="No model matches.")
        return
    if fmt == output.JSON:
        rows = (output.iso_times(m.as_dict()) for m in table.models)
    else:
        rows = (_row(m, table.params, table.metrics, readable=fmt == output.TABLE) for m in table.models)
    columns_out = ["model", "model_type", "training_run", "training_data",
                   *(f"params.{p}" for p in table.params), *(f"metrics.{m}" for m in table.metrics),
                   "evaluations", "notes", "model_file", "trained_at"]
    if fmt == output.TABLE:
        columns_out.remove("model_file")  # the model's name says which file; --json/--csv carry the path
    count = output.emit(rows, columns_out, fmt,
                        empty="No model matches." if table.total else
                        "No run of this project wrote a model (docs/models.md says what counts as one).")
    if table.next_cursor:
        click.echo(f"(models {table.offset + 1:,}-{table.offset + count:,} of {table.matched:,}: "
                   f"--limit to show more, or --cursor {table.next_cursor} for the next page)", err=True)
    if count == 0 and (filter_ or sort):
        from modeldb_core.query.language import fields_of, parse_filter, parse_sort

        fields = fields_of(parse_filter(filter_)) + [k.field for k in parse_sort(sort or "")]
        for note in hints.unknown_keys(store, fields):
            click.echo(f"Note: {note}.", err=True)
