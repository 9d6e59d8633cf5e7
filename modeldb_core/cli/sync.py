"""``modeldb sync``: write to the store what journals of finished processes still hold."""
from __future__ import annotations

import click


def pending_warning(obj) -> str | None:
    """A line saying this machine has journaled events the store does not have yet, or None."""
    from modeldb_core import config, journal

    settings = config.resolve(uri=obj.uri_argument)
    waiting = journal.pending(journal.folder_for(settings.journal, settings.uri))
    if not waiting:
        return None
    dead = sum(1 for _, _, alive in waiting if not alive)
    size = sum(b for _, b, _ in waiting)
    line = (f"Warning: {len(waiting)} journal(s) on this machine hold {size:,} bytes of tracking events "
            f"not yet in the store")
    return line + (f" ({dead} of finished processes: run `modeldb sync`)." if dead else
                   " (their processes are still writing them).")


@click.command("sync")
@click.option("--dry-run", is_flag=True, help="List what is pending without writing it.")
@click.pass_obj
def sync(obj, dry_run: bool) -> None:
    """Replay the journals of processes that are gone into the store.

    A process that could not reach the store, or was killed, leaves its events
    in its journal; this writes them (a run whose process died ends killed).
    The next tracked process does the same by itself.
    """
    from modeldb_core import config, handoff, replay

    settings = config.resolve(uri=obj.uri_argument)
    folder = replay.journal_file.folder_for(settings.journal, settings.uri)
    handoff.wait(folder)  # a process that just exited may still be writing its own journal
    if dry_run:
        found = list(replay.preview(folder))
        for path, events, runs, open_runs, torn, alive in found:
            state = "process running" if alive else "process gone"
            click.echo(f"{path.name}: {events} events, {runs} runs ({open_runs} not ended), {state}"
                       + (f"; torn: {torn}" if torn else ""))
        if not found:
            click.echo("Nothing pending.")
        return
    done = replay.replay_folder(obj.client.open_store(), folder)
    for result in done:
        click.echo(f"{result.path.name}: replayed {result.events} events of {result.runs} runs"
                   f" ({result.killed} ended killed)" + (f"; torn: {result.torn}" if result.torn else ""))
    if not done:
        click.echo("Nothing to replay.")
    left = pending_warning(obj)
    if left:
        click.echo(left, err=True)


def register(cli: click.Group) -> None:
    cli.add_command(sync)
