"""The step graph of a scikit-learn estimator, from what its run recorded.

The scikit-learn integration stores the structure as the tag
``sklearn.pipeline_graph`` (compact JSON: nodes with id/label/class/module/
columns/branch, edges as ``[source, target]``); a graph too large for a tag is a
JSON blob in the artifact store, recorded as the run's output
``pipeline_graph``. Here it becomes the boxes and edges the page draws. The
blob is read by its hash from this app's artifact store (``read_blob``), never
from the URI the run recorded.
"""
from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

from modeldb_core.model import RunDetail

GRAPH_TAG = "sklearn.pipeline_graph"
GRAPH_ARTIFACT_TAG = "sklearn.pipeline_graph_artifact"
GRAPH_OUTPUT = "pipeline_graph"
MAX_BLOB_BYTES = 4 * 1024 * 1024


def _artifacts_root() -> Path:
    from modeldb_core import config

    return config.resolve().artifacts


def read_blob(content_hash: str, root: Path | None = None, limit: int = MAX_BLOB_BYTES) -> bytes | None:
    """The bytes of a blob of the content-addressed artifact store, or None.

    Never a path a record names: the path is derived from the hash, must
    resolve inside the store's root (no symlink out of it), must be a regular
    file (a FIFO or a device is refused without blocking: O_NONBLOCK) of at
    most ``limit`` bytes, and its content must hash to its name.
    """
    from modeldb_core.artifact_store import ArtifactStore
    from modeldb_core.errors import ValidationError

    base = Path(root) if root is not None else _artifacts_root()
    try:
        path = ArtifactStore(base).path(content_hash)
    except ValidationError:
        return None
    real_root = os.path.realpath(base)
    real = os.path.realpath(path)
    if os.path.commonpath([real_root, real]) != real_root:
        return None
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None  # not here (the artifact store is on another machine), or not readable
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit or hashlib.sha256(data).hexdigest() != content_hash.split(":")[-1]:
        return None
    return data


def _recorded(d: RunDetail) -> dict[str, Any] | None:
    text = d.tags.get(GRAPH_TAG)
    if text is None:
        # A graph too large for a tag is a blob named by its hash: the tag, or the output's hash.
        digest = d.tags.get(GRAPH_ARTIFACT_TAG)
        if digest is None:
            digest = next((o.artifact.content_hash for o in d.outputs if o.name == GRAPH_OUTPUT), None)
        data = read_blob(digest) if digest else None
        if data is None:
            return None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return None
    try:
        graph = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return graph if isinstance(graph, dict) and isinstance(graph.get("nodes"), list) else None


def graph_of(d: RunDetail) -> dict[str, Any] | None:
    graph = _recorded(d)
    if graph is None:
        return None
    nodes = []
    for n in graph["nodes"]:
        if not isinstance(n, dict) or "id" not in n:
            continue
        cls = str(n.get("class") or "")
        module = n.get("module")
        title = f"{module}.{cls}" if module else cls
        columns = n.get("columns")
        if columns:
            title += f" on {', '.join(map(str, columns)) if isinstance(columns, list) else columns}"
        label = str(n.get("label") or n["id"])
        if n.get("branch"):  # the first step of a Pipeline branch carries the branch's name
            label = f"{n['branch']}: {label}"
        nodes.append({"key": str(n["id"]), "label": label, "sub": cls, "title": title})
    keys = {n["key"] for n in nodes}
    edges = [{"source": str(a), "target": str(b)} for a, b in
             (e for e in graph.get("edges", []) if isinstance(e, (list, tuple)) and len(e) == 2)
             if str(a) in keys and str(b) in keys]
    return {"nodes": nodes, "edges": edges}
