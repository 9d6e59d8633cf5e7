"""Luigi targets as artifact versions: what a task read and wrote.

- a ``LocalTarget`` is a local file or directory, fingerprinted by content
  (a file not yet written is known by its path only);
- any other ``FileSystemTarget`` (S3, GCS, HDFS, mock...) is recorded by URI:
  its path when that already has a scheme, else ``<type>://<path>``
  (``hdfs:///data/x``), with the target's type as the artifact kind;
- any other target (a database table, a marker row) by a URI built from its
  ``host`` / ``database`` / ``table`` when it has them, else from its type and a
  hash of its repr (never the repr itself: it may hold a password).

``output()`` and ``requires()`` may return a target (a task), a dict, ``None``
or any iterable Luigi accepts (a list, a tuple, a set, a generator: ``yield
Part(i)``), nested: each target gets a name from where it sits (``model``,
``[0]``, ``clean.features``). What the user's methods return is read through
:mod:`.calls`: what Luigi itself got, not a call of its own.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import stat
from typing import Any, Iterator

from modeldb_core import validation
from modeldb_core.fingerprint import fingerprint
from modeldb_core.model import ArtifactVersion

# Hashing a file twice in one process (written by one task, read by the next)
# is avoided by remembering its version under its inode, size and times.
_MAX_CACHED = 10_000
_file_versions: dict[tuple, ArtifactVersion] = {}


def walk(struct: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``(name, leaf)`` for every leaf of a nested structure, by Luigi's own flattening rule
    (``luigi.task.flatten``): a dict by its values, a string as one leaf, any other iterable
    (list, tuple, set, a generator...) item by item, anything else as a leaf."""
    if struct is None:
        return
    if isinstance(struct, dict):
        for key, value in struct.items():
            yield from walk(value, f"{prefix}.{key}" if prefix else str(key))
        return
    if isinstance(struct, str):
        yield prefix, struct
        return
    try:
        items = iter(struct)
    except TypeError:
        yield prefix, struct
        return
    for index, value in enumerate(items):
        yield from walk(value, f"{prefix}[{index}]")


def _name(name: str) -> str | None:
    name = name.strip()
    if not name:
        return None
    return name[: validation.MAX_KEY].strip() or None


def outputs(task: Any) -> list[tuple[str | None, Any]]:
    """The targets ``task.output()`` returns, named by their place in it."""
    return [(_name(name) or "output", target) for name, target in walk(task.output())]


def inputs(task: Any) -> list[tuple[str | None, Any]]:
    """The targets of ``task.input()``, named after the requirement that made them.

    ``requires()`` returning ``CleanData()`` names its target ``CleanData``; a
    dict ``{"clean": CleanData()}`` names it ``clean``; a list
    ``[Part(1), Part(2)]`` (or a generator yielding them) names them
    ``Part[0]``, ``Part[1]``; a requirement with several outputs adds their keys
    (``CleanData.features``).
    """
    return requirement_targets(task.requires())


def requirement_targets(requirements: Any) -> list[tuple[str | None, Any]]:
    """The output targets of a requirement structure (as ``requires()`` returns), named as in ``inputs``."""
    found = []
    for place, dep in walk(requirements):
        if not hasattr(dep, "output"):
            continue
        base = place if place and not place.startswith("[") else f"{dep.task_family}{place}"
        for name, target in walk(dep.output()):
            found.append((_name(base + (name if name.startswith("[") or not name else f".{name}")), target))
    return found


def _is_local(target: Any) -> bool:
    from luigi.local_target import LocalTarget

    return isinstance(target, LocalTarget)


def _scheme(target: Any) -> str:
    name = type(target).__name__.lower()
    if name.endswith("target") and len(name) > len("target"):
        name = name[: -len("target")]
    scheme = "".join(ch for ch in name if ch.isalnum() or ch in "+-.") or "target"
    return scheme if scheme[0].isalpha() else "t" + scheme


def uri_of(target: Any) -> str:
    """The URI naming a target that is not a local file."""
    path = getattr(target, "path", None)
    if isinstance(path, str) and path:
        if "://" in path:
            return path
        return f"{_scheme(target)}://{path if path.startswith('/') else '/' + path}"
    table = getattr(target, "table", None)
    if isinstance(table, str) and table:
        parts = [str(getattr(target, attr)) for attr in ("host", "database", "table")
                 if isinstance(getattr(target, attr, None), (str, int)) and getattr(target, attr) != ""]
        return f"{_scheme(target)}://" + "/".join(p.replace("/", "%2F") for p in parts)
    try:
        shown = repr(target)
    except Exception:  # noqa: BLE001 - a broken __repr__ must not stop tracking
        shown = str(id(target))
    digest = hashlib.sha256(f"{type(target).__module__}.{type(target).__qualname__}:{shown}".encode())
    return f"{_scheme(target)}://{digest.hexdigest()[:16]}"


def _target_type(target: Any) -> str:
    return f"{type(target).__module__}.{type(target).__qualname__}"


def _with_type(version: ArtifactVersion, target: Any) -> ArtifactVersion:
    return dataclasses.replace(version, metadata={**version.metadata, "target": _target_type(target)})


def _local_version(target: Any) -> ArtifactVersion:
    path = target.path
    try:
        st = os.stat(path)
    except OSError:
        return _with_type(fingerprint(path), target)  # not written (yet): known by its path
    if not stat.S_ISREG(st.st_mode):
        return _with_type(fingerprint(path), target)  # a directory: its content is the files under it
    key = (os.path.abspath(path), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, type(target))
    found = _file_versions.get(key)
    if found is None:
        found = _with_type(fingerprint(path), target)
        if len(_file_versions) >= _MAX_CACHED:
            _file_versions.clear()
        _file_versions[key] = found
    return found


def version_of(target: Any) -> ArtifactVersion:
    """The artifact version a target stands for now."""
    if _is_local(target):
        return _local_version(target)
    uri = validation.uri("artifact uri", uri_of(target))
    version = fingerprint(uri, kind=type(target).__name__)
    return dataclasses.replace(version, metadata={"target": _target_type(target)})
