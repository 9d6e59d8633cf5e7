"""The ``modeldb`` command line.

Start-up is kept cheap: this package imports only click and the light parts of
``modeldb_core``; SQLAlchemy, the store and the query layer are imported inside
the commands that need them. A ``ModelDBError`` becomes a one-line message on
stderr and exit status 1, never a traceback.
"""
from __future__ import annotations

import sys

import click

from modeldb_core import __version__

from .context import Context


class _Group(click.Group):
    """Turns ModelDB errors into clean messages for every subcommand."""

    def invoke(self, ctx: click.Context):
        from modeldb_core.errors import ModelDBError

        try:
            return super().invoke(ctx)
        except ModelDBError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(1)
        except BrokenPipeError:
            # `modeldb runs list --json | head` closed the pipe: not an error.
            sys.stderr.close()
            ctx.exit(0)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--uri", envvar=None, metavar="URI",
              help="Store to use (default: $MODELDB_URI, then the config file, "
                   "then ~/.modeldb/modeldb.db).")
# The version comes from modeldb_core.__version__ (the one source the build reads too), so
# a checkout and an install agree, and no package metadata is read at start-up.
@click.version_option(__version__, "--version", prog_name="modeldb",
                      message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context, uri: str | None) -> None:
    """ModelDB: find, compare and trace every model run."""
    ctx.obj = Context(uri)


def _register() -> None:
    from . import (artifacts, db, deployments, lineage, models, monitor, projects, remote, reproduce, runs,
                   server, sync)

    for module in (runs, db, lineage, projects, artifacts, server, remote, sync, models, deployments, monitor,
                   reproduce):
        module.register(cli)


_register()


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="modeldb")


__all__ = ["cli", "main"]
