"""``modeldb db ...``: schema upgrades."""
from __future__ import annotations

import click


@click.group("db")
def db_group() -> None:
    """Manage the store's schema."""


def _open_unchecked(obj):
    from modeldb_core.store import open_store

    # Without the check: an outdated schema must still open, to be upgraded.
    return open_store(obj.uri, check_schema=False)


@db_group.command("upgrade")
@click.pass_obj
def upgrade(obj) -> None:
    """Bring the store's schema up to date."""
    store = _open_unchecked(obj)
    try:
        before = store.schema_revision()
        after = store.upgrade()
    finally:
        store.close()
    if before == after:
        click.echo(f"Schema already at revision {after}.")
    else:
        click.echo(f"Upgraded schema from {before or 'empty'} to {after}.")


@db_group.command("current")
@click.pass_obj
def current(obj) -> None:
    """Print the store's schema revision."""
    from modeldb_core.store.migrate import HEAD

    from modeldb_core.store.migrate import recorded_version

    store = _open_unchecked(obj)
    try:
        revision = store.schema_revision()
        written_by = recorded_version(store.engine)
    finally:
        store.close()
    shown = store.engine.url.render_as_string(hide_password=True)
    if revision is None:
        state = "empty (created on first use)"
    elif revision == HEAD:
        state = "up to date"
    else:
        state = f"this ModelDB needs {HEAD}: run `modeldb db upgrade`"
    by = f"; written by ModelDB {written_by}" if written_by else ""
    click.echo(f"{shown}: revision {revision or '-'} ({state}{by})")


def register(cli: click.Group) -> None:
    cli.add_command(db_group)
