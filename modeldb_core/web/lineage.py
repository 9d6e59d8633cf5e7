"""The lineage graph around a run or an artifact version, both ways at once.

The store walks one direction at a time; here upstream nodes get negative
depths and downstream ones positive, so the page can lay the graph out left
(where data came from) to right (where it went).
"""
from __future__ import annotations

from typing import Any

from modeldb_core.errors import ValidationError
from modeldb_core.store import MetadataStore

DIRECTIONS = ("up", "down", "both")


def graph(store: MetadataStore, node: str, direction: str = "both", depth: int = 10) -> dict[str, Any]:
    if direction not in DIRECTIONS:
        raise ValidationError("direction", direction, "must be 'up', 'down' or 'both'")
    if not 1 <= depth <= 50:
        raise ValidationError("depth", depth, "must be between 1 and 50")
    nodes: dict[str, dict[str, Any]] = {}
    edges: dict[tuple[str, str], None] = {}
    for way in (("up", "down") if direction == "both" else (direction,)):
        g = store.lineage(node, direction=way, depth=depth)
        sign = -1 if way == "up" else 1
        for n in g.nodes:
            key = f"{n.kind}:{n.id}"
            if key not in nodes:
                nodes[key] = {"key": key, "kind": n.kind, "id": n.id, "label": n.label,
                              "depth": sign * n.depth, "status": None, "project": None,
                              "orchestrator": None, "phase": None}
        for e in g.edges:
            edges[(e.source, e.target)] = None
    _add_run_details(store, nodes)
    return {"root": node, "direction": direction,
            "nodes": sorted(nodes.values(), key=lambda n: (n["depth"], n["key"])),
            "edges": [{"source": s, "target": t} for s, t in edges]}


def _add_run_details(store: MetadataStore, nodes: dict[str, dict[str, Any]]) -> None:
    """Status, project and orchestrator of run nodes: what tells pipelines apart on the graph."""
    run_ids = [n["id"] for n in nodes.values() if n["kind"] == "run"]
    if not run_ids:
        return
    from .runs import runs_by_id

    for run_id, run in runs_by_id(store, run_ids).items():
        n = nodes[f"run:{run_id}"]
        n.update(status=run.status, project=run.project, orchestrator=run.orchestrator,
                 phase=run.phase)
