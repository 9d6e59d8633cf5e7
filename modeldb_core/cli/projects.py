"""``modeldb projects list``."""
from __future__ import annotations

import click

from . import output
from .output import format_options


@click.group("projects")
def projects_group() -> None:
    """Projects and their runs."""


@projects_group.command("list")
@format_options
@click.pass_obj
def list_projects(obj, fmt) -> None:
    """Projects with their number of runs, pipelines and last activity."""
    store = obj.store
    rows = []
    for s in store.project_summaries():
        if fmt == output.JSON:
            rows.append({"name": s.project.name, "id": s.project.id, "description": s.project.description,
                         "created_at": output.iso(s.project.created_at), "runs": s.runs,
                         "pipelines": s.pipelines, "last_activity": output.iso(s.last_activity),
                         "orchestrators": list(s.orchestrators), "metrics": sorted(s.metrics)})
        else:
            rows.append({"name": s.project.name, "runs": s.runs, "pipelines": s.pipelines,
                         "last activity": output.timestamp(s.last_activity),
                         "orchestrators": ", ".join(s.orchestrators),
                         "metrics": ", ".join(sorted(s.metrics))})
    output.emit(rows, ["name", "runs", "pipelines", "last activity", "orchestrators", "metrics"], fmt,
                empty="No projects.")


def register(cli: click.Group) -> None:
    cli.add_command(projects_group)
