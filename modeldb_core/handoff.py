"""Handing a process's journal to a background writer when the process exits.

A short script would otherwise spend most of its life on tracking at exit: its
writer thread imports SQLAlchemy, opens the store and captures the environment
before the first batch can land, several hundred milliseconds for a call that
took one. So a process whose writer has not opened its store yet by the time
it exits syncs its journal to disk and hands it over: a detached
``python -m modeldb_core.handoff`` inherits the journal's descriptor, and with
it the journal's ``flock``, so no other process takes the journal for an
orphan while it is being written. It opens the store, captures the environment
(the same interpreter and environment variables as the process that exited),
applies the journal and removes it. The script has finished by then.

Nothing recorded depends on that process: the journal is on disk before it
starts, and if it fails (the store is down) the journal stays for the next
ModelDB process or ``modeldb sync``, like any other. Reads through ModelDB (the
CLI, the web app, the client) wait for journals being handed off (at most
``PATIENCE`` seconds) before they read, so ``python train.py && modeldb runs
list`` lists the run. ``MODELDB_EXIT_HANDOFF=0`` makes the exit wait instead.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from . import journal as journal_file

if TYPE_CHECKING:
    from .config import Settings

FD_VARIABLE = "MODELDB_HANDOFF_FD"
PATIENCE = 30.0  # the longest a read waits for journals being handed off
POLL = 0.02


def start(settings: "Settings", journal: journal_file.Journal) -> bool:
    """Sync ``journal`` and start the process that writes it; True if it started.

    The caller closes its own descriptors of the journal afterwards, without removing
    it: the lock stays with the descriptor the new process inherited."""
    journal.sync()
    fd = os.dup(journal.fd)  # the same open file, so the same flock
    env = dict(os.environ)
    env.update({FD_VARIABLE: str(fd), "MODELDB_URI": settings.uri,
                "MODELDB_JOURNAL": str(settings.journal)})
    if settings.store_timeout is not None:
        env["MODELDB_STORE_TIMEOUT"] = str(settings.store_timeout)
    try:
        subprocess.Popen([sys.executable, "-m", "modeldb_core.handoff", str(journal.path)],
                         pass_fds=(fd,), env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True, close_fds=True)
    except OSError:
        return False
    finally:
        os.close(fd)
    return True


def in_progress(folder: Path) -> list[Path]:
    """Journals of this host whose process is gone while another holds their lock: being
    handed off (or replayed by another process right now)."""
    from .client import pid_alive

    host = socket.gethostname()
    found = []
    for path in journal_file.journals(folder):
        owner_host, _, rest = path.stem.rpartition("-")[0].rpartition("-")
        try:
            pid = int(rest)
        except ValueError:
            continue
        if owner_host != host or pid_alive(pid):
            continue
        if journal_file.is_locked(path):
            found.append(path)
    return found


def wait(folder: Path, patience: float = PATIENCE) -> bool:
    """Wait until no journal of ``folder`` is being handed off; False if ``patience`` ran out."""
    deadline = time.monotonic() + patience
    while in_progress(folder):
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL)
    return True


def main(argv: list[str]) -> int:
    """The handed-off writer: apply one journal whose lock it inherited, then remove it."""
    fd = int(os.environ.pop(FD_VARIABLE))
    path = Path(argv[0])
    from . import config, replay
    from .runtime import environment_definition
    from .store import open_store

    settings = config.resolve()
    orphan = journal_file.Orphan(path, fd)
    with orphan:
        store = open_store(settings.uri, timeout=settings.store_timeout or 10.0)
        try:
            replay.replay_file(store, orphan, environment=environment_definition)
        finally:
            store.close()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except Exception:  # noqa: BLE001 - the journal stays for the next process or `modeldb sync`
        sys.exit(1)
