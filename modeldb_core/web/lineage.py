"""The lineage graph around a run or an artifact version, both ways at once.

The store walks one direction at a time; here upstream nodes get negative
depths and downstream ones positive, so the page can lay the graph out left
(where data came from) to right (where it went).

An answer is bounded: at most ``MAX_NODES`` nodes (nearest to the root
first), labels of at most ``MAX_LABEL`` characters, and ``more`` says where the
next page starts. Each edge is in the page of its later end.
"""
from __future__ import annotations

from typing import Any

from modeldb_core.errors import ValidationError
from modeldb_core.store import MetadataStore

DIRECTIONS = ("up", "down", "both")
MAX_NODES = 500
MAX_LABEL = 300


def check_node(node: Any) -> str:
    """``run:<id>`` or ``artifact:<id>``, the id checked like every id at the boundary."""
    from modeldb_core.validation import record_id

    if not isinstance(node, str) or len(node) > 64:
        raise ValidationError("node", node, "must be run:<id> or artifact:<id>")
    kind, sep, raw = node.partition(":")
    if not sep or kind not in ("run", "artifact"):
        raise ValidationError("node", node, "must be run:<id> or artifact:<id>")
    return f"{kind}:{record_id(f'{kind} id', raw)}"


def _short(text: Any) -> str:
    text = str(text)
    return text if len(text) <= MAX_LABEL else text[:MAX_LABEL - 1] + "\u2026"


def graph(store: MetadataStore, node: str, direction: str = "both", depth: int = 10,
          offset: int = 0, limit: int = MAX_NODES) -> dict[str, Any]:
    node = check_node(node)
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValidationError("offset", offset, "must be 0 or more")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_NODES:
        raise ValidationError("limit", limit, f"must be from 1 to {MAX_NODES} (MAX_NODES)")
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
                nodes[key] = {"key": key, "kind": n.kind, "id": n.id, "label": _short(n.label),
                              "depth": sign * n.depth, "status": None, "project": None,
                              "orchestrator": None, "phase": None}
        for e in g.edges:
            edges[(e.source, e.target)] = None
    # Nearest first, so the first page is the neighbourhood of the root.
    ranked = sorted(nodes.values(), key=lambda n: (abs(n["depth"]), n["depth"], n["kind"], n["id"]))
    rank = {n["key"]: i for i, n in enumerate(ranked)}
    page = ranked[offset:offset + limit]
    end = offset + len(page)
    root = nodes[node] if node in nodes else ranked[0]
    _add_run_details(store, {n["key"]: n for n in [root, *page]})
    page_edges = [{"source": s, "target": t} for s, t in edges
                  if s in rank and t in rank and offset <= max(rank[s], rank[t]) < end]
    return {"root": node, "root_node": root, "direction": direction, "total_nodes": len(ranked),
            "offset": offset,
            "nodes": sorted(page, key=lambda n: (n["depth"], n["key"])),
            "edges": page_edges,
            "more": {"offset": end, "remaining": len(ranked) - end} if end < len(ranked) else None}


def _add_run_details(store: MetadataStore, nodes: dict[str, dict[str, Any]]) -> None:
    """Status, project and orchestrator of run nodes: what tells pipelines apart on the graph."""
    run_ids = [n["id"] for n in nodes.values() if n["kind"] == "run"]
    if not run_ids:
        return
    from modeldb_core.query.detail import runs_by_id

    for run_id, run in runs_by_id(store, run_ids).items():
        n = nodes[f"run:{run_id}"]
        n.update(status=run.status, project=run.project, orchestrator=run.orchestrator,
                 phase=run.phase)
