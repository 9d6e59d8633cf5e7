"""The step graph of a scikit-learn estimator, from what its run recorded.

The scikit-learn integration stores the structure as the tag
``sklearn.pipeline_graph`` (compact JSON: nodes with id/label/class/module/
columns/branch, edges as ``[source, target]``); a graph too large for a tag is a
JSON blob in the artifact store, recorded as the run's output
``pipeline_graph``. Here it becomes the boxes and edges the page draws.
"""
from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote, urlparse

from modeldb_core.model import RunDetail

GRAPH_TAG = "sklearn.pipeline_graph"
GRAPH_OUTPUT = "pipeline_graph"
MAX_BLOB_BYTES = 4 * 1024 * 1024


def _recorded(d: RunDetail) -> dict[str, Any] | None:
    text = d.tags.get(GRAPH_TAG)
    if text is None:
        for out in d.outputs:
            if out.name == GRAPH_OUTPUT and out.artifact.uri.startswith("file://"):
                path = unquote(urlparse(out.artifact.uri).path)
                try:
                    with open(path, "rb") as fh:
                        text = fh.read(MAX_BLOB_BYTES).decode("utf-8")
                except OSError:
                    return None  # the artifact store is not on this machine
                break
    if text is None:
        return None
    try:
        graph = json.loads(text)
    except ValueError:
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
