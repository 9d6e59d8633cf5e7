"""``modeldb reproduce RUN``: re-execute a run from its recorded code, environment, inputs
and seed, and say whether it came out bit-identical (docs/reproduce.md)."""
from __future__ import annotations

import sys

import click

from . import output
from .context import RUN_ID
from .views import short_hash

SOURCES = {"original": "original (hash verified)", "snapshot": "snapshot in the artifact store",
           "in-memory": "in-memory value", "upstream": "re-made by the upstream task", "changed": "CHANGED since the run", "missing": "MISSING"}


def register(cli: click.Group) -> None:
    cli.add_command(reproduce_command)


@click.command("reproduce")
@click.argument("run_id", type=RUN_ID)
@click.option("--env", "env", type=click.Choice(["current", "rebuild"]), default="current", show_default=True,
              help="Run in this environment, or in a fresh venv built from the run's lock with uv.")
@click.option("--dry-run", is_flag=True, help="Print the plan and stop.")
@click.option("--workdir", type=click.Path(file_okay=False), default=None,
              help="Work (and keep the checkout, inputs and outputs) here instead of a temporary folder.")
@click.option("--tolerance", type=float, default=1e-6, show_default=True,
              help="Relative and absolute tolerance of metrics.")
@click.option("--upstream", is_flag=True,
              help="First reproduce the runs that wrote inputs no longer available (in lineage order).")
@click.option("--flow", is_flag=True,
              help="RUN is a task run of a tracked Prefect flow: call the whole flow again with its recorded "
                   "parameters and compare its task runs one by one.")
@click.option("--set", "values", multiple=True, metavar="NAME=VALUE",
              help="Give an argument the run could not record (a redacted secret), as a string. Repeatable.")
@click.option("--set-env", "from_env", multiple=True, metavar="NAME=ENV_VAR",
              help="Give an argument from an environment variable, so a secret is not on the command line. "
                   "Repeatable.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def reproduce_command(obj, run_id: str, env: str, dry_run: bool, workdir: str | None, tolerance: float,
                      upstream: bool, flow: bool, values: tuple[str, ...], from_env: tuple[str, ...],
                      as_json: bool) -> None:
    """Re-execute RUN and compare its outputs and metrics with the original's."""
    from modeldb_core.reproduction import reproduce

    result = reproduce(run_id, dry_run=dry_run, env=env, workdir=workdir, tolerance=tolerance,
                       upstream=upstream, flow=flow, arguments=given_arguments(values, from_env) or None,
                       client=obj.client)
    if as_json:
        click.echo(output.dumps(result.to_dict(), indent=2))
    elif dry_run:
        print_plan(result)
    else:
        print_verdict(result)
    if not dry_run and result.verdict not in ("identical", "within_tolerance"):
        sys.exit(2)


def _pair(option: str, item: str, right: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep or not name.strip():
        raise click.BadParameter(f"expects NAME={right}, got {item.split('=', 1)[0][:40]!r} without '='",
                                 param_hint=option)
    return name.strip(), value


def given_arguments(values: tuple[str, ...], from_env: tuple[str, ...]) -> dict[str, str]:
    """``--set NAME=VALUE`` and ``--set-env NAME=ENV_VAR`` as the arguments to give the re-run."""
    import os

    arguments = dict(_pair("--set", item, "VALUE") for item in values)
    for item in from_env:
        name, variable = _pair("--set-env", item, "ENV_VAR")
        if variable not in os.environ:
            raise click.BadParameter(f"{name}={variable}: the environment variable {variable} is not set",
                                     param_hint="--set-env")
        arguments[name] = os.environ[variable]
    return arguments


def print_plan(plan, out=None) -> None:
    out = out or sys.stdout
    w = out.write
    w(f"Plan to reproduce run {plan.run_id}: {plan.name}\n")
    code = {"entry point": plan.entry_point or "none recorded", "kind": plan.kind,
            "repository": plan.repo, "commit": plan.commit,
            "diff": ("captured " + short_hash(plan.diff)) if plan.diff else ("none (clean tree)" if plan.commit else None)}
    output.key_values("Code", {k: v for k, v in code.items() if v is not None}, out)
    env = {"python": f"{plan.python_recorded} (now {plan.python_current})"
           if plan.python_recorded != plan.python_current else plan.python_current}
    for p in plan.packages:
        env[p.package] = f"{p.recorded or 'absent'} recorded, {p.current or 'absent'} installed"
    if not plan.packages:
        env["packages"] = "the versions the run's code imports are installed"
    output.key_values("Environment", env, out)
    output.key_values("Inputs", {(i.name or i.uri): f"{i.uri}  {short_hash(i.content_hash)}  <- {SOURCES[i.source]}"
                                 for i in plan.inputs}, out)
    seed = f"{plan.seed['param']}={plan.seed['value']}" if plan.seed else "none recorded"
    output.key_values("Randomness", {"seed": seed, "unseeded": "yes" if plan.unseeded else "no"}, out)
    for before in plan.upstream:
        w(f"\nUpstream: run {before.run_id} ({before.name}) is reproduced first\n")
    if plan.blockers:
        w("\nBlockers\n")
        for b in plan.blockers:
            w(f"  - {b.problem}\n    what to do: {b.fix}\n")
    else:
        w("\nNothing blocks reproduction.\n")


def print_verdict(verdict, out=None) -> None:
    out = out or sys.stdout
    w = out.write
    shown = verdict.verdict.replace("_", " ")
    if verdict.verdict == "within_tolerance":
        shown = "metrics within tolerance but outputs differ"
    w(f"Run {verdict.run_id} reproduced as run {verdict.reproduction_run_id}: {shown}\n")
    for before in verdict.upstream:
        w(f"  upstream run {before.run_id} reproduced first as {before.reproduction_run_id}: {before.verdict}\n")
    if verdict.reused:
        w(f"  reused upstream runs (outputs still available): {', '.join(verdict.reused)}\n")
    if verdict.identical_outputs:
        w(f"  identical outputs: {', '.join(verdict.identical_outputs)}\n")
    for d in verdict.differences:
        if d.kind == "metric":
            by = f" (by {d.delta:+.6g})" if d.delta is not None else ""
            w(f"  metric {d.name}: {output.cell(d.original)} -> {output.cell(d.reproduced)}{by}\n")
        else:
            w(f"  output {d.name}: {short_hash(d.original)} -> {short_hash(d.reproduced) or 'not written'}\n")
    for task in verdict.tasks:
        w(f"  task run {task.run_id} reproduced as {task.reproduction_run_id or 'nothing'}: "
          f"{task.verdict.replace('_', ' ')}\n")
        for d in task.differences:
            w(f"    {d.kind} {d.name} differs\n")
        if task.error:
            w(f"    {task.error}\n")
    if verdict.error:
        w(f"  the re-run failed: {verdict.error}\n")
    for cause in verdict.likely_causes:
        w(f"  likely cause: {cause}\n")
