"""Files ModelDB creates are private to their owner unless the settings say otherwise.

The store file, ``~/.modeldb``, the artifact store and (for the journal) any
folder ModelDB makes hold params, code paths and models that other users of a
shared machine have no business reading: folders are created 0700, files
0600. With ``private_files = false`` (``MODELDB_PRIVATE_FILES=0``) the
process umask decides, as for any other program. Existing files and folders
are never re-moded: a folder the user made (``/data/shared``) keeps its mode.
"""
from __future__ import annotations

import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def _private(private: bool | None) -> bool:
    if private is not None:
        return private
    from . import client

    current = client._client
    if current is not None:
        return current.settings.private_files
    from . import config

    return config._as_bool("MODELDB_PRIVATE_FILES", config._setting(
        "private_files", None, "MODELDB_PRIVATE_FILES", True))


def make_dirs(path: str | os.PathLike, private: bool | None = None) -> Path:
    """``mkdir -p path``; the folders it creates are 0700 when private."""
    path = Path(path)
    if path.is_dir():
        return path
    if not _private(private):
        path.mkdir(parents=True, exist_ok=True)
        return path
    missing = []
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing.append(folder)
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(folder, DIR_MODE)  # mkdir's mode is filtered by the umask
    return path


def create_file(path: str | os.PathLike, private: bool | None = None) -> Path:
    """Create ``path`` empty (0600 when private) unless it exists, making its folders first.

    For the SQLite store: SQLite gives its ``-wal`` and ``-shm`` files the
    mode of the database file, so creating the file private is enough.
    """
    path = Path(path)
    make_dirs(path.parent, private)
    mode = FILE_MODE if _private(private) else 0o666
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        return path
    os.close(fd)
    if mode == FILE_MODE:
        os.chmod(path, FILE_MODE)
    return path


def prepare_sqlite_file(database: str | os.PathLike, private: bool | None = None) -> None:
    """What ``store.engine`` calls before opening a SQLite file: its folder and the file, private."""
    create_file(Path(database).expanduser(), private)
