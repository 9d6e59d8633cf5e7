"""The structure of an estimator as a graph of steps, for the CLI and the UI to draw.

Stored on the run as the tag ``sklearn.pipeline_graph`` (compact JSON)::

    {"nodes": [{"id": "preprocess__num__impute", "label": "impute",
                "class": "SimpleImputer", "module": "sklearn.impute",
                "columns": ["sqft", "age"], "branch": "num"}, ...],
     "edges": [["preprocess", "preprocess__num__impute"], ...],
     "root": "__root__" | null}

- A node's ``id`` is its path of step names joined by ``__``: the same prefix
  as its hyperparameters in ``get_params(deep=True)`` (``preprocess__num__scaler__with_mean``).
- ``Pipeline`` draws no node of its own: its steps are chained, each step's
  exits joined to the next step's entries.
- ``ColumnTransformer`` and ``FeatureUnion`` are a node that fans out to one
  branch per transformer (``columns`` lists what a ColumnTransformer branch
  reads; ``branch`` names a branch that is a Pipeline on its first step); the
  branches' ends all lead into the next step (their outputs are concatenated).
  ``passthrough`` branches are nodes of class ``passthrough``; ``drop``
  branches are left out.
- ``render_text(graph)`` draws it as an indented tree for a terminal.
- Any other estimator holding estimators (``GridSearchCV``, ``BaggingRegressor``,
  ``StackingClassifier``, ``TransformedTargetRegressor``...) is a node with an
  edge to each one it holds; the nested structure continues below them.
- A graph too large for a tag (over 5,000 characters) is stored in the artifact
  store instead; the tag ``sklearn.pipeline_graph_artifact`` then holds its hash.
"""
from __future__ import annotations

from typing import Any

ROOT = "__root__"
MAX_COLUMNS_SHOWN = 50
MAX_NODES = 2000


def public_module(cls: type) -> str:
    """``sklearn.preprocessing`` rather than ``sklearn.preprocessing._data`` when that is where users import it."""
    module = cls.__module__
    parts = module.split(".")
    while len(parts) > 1 and parts[-1].startswith("_"):
        parts.pop()
    public = ".".join(parts)
    try:
        import sys

        if getattr(sys.modules.get(public), cls.__name__, None) is cls:
            return public
    except Exception:  # noqa: BLE001
        pass
    return module


def class_path(obj: Any) -> str:
    cls = obj if isinstance(obj, type) else type(obj)
    return f"{public_module(cls)}.{cls.__qualname__}"


def _is_estimator(value: Any) -> bool:
    return hasattr(value, "get_params") and hasattr(value, "fit") and not isinstance(value, type)


def _columns(spec: Any) -> Any:
    """What a ColumnTransformer branch reads, as JSON: names, indices, a mask or a selector's repr."""
    if isinstance(spec, (str, int)):
        return [spec]
    if callable(spec):
        return repr(spec)[:200]
    try:
        items = list(spec)
    except TypeError:
        return repr(spec)[:200]
    shown = []
    for item in items[:MAX_COLUMNS_SHOWN]:
        if hasattr(item, "item") and getattr(item, "ndim", 1) == 0:
            item = item.item()
        shown.append(item if isinstance(item, (str, int, bool, float)) else str(item))
    if len(items) > MAX_COLUMNS_SHOWN:
        shown.append(f"... {len(items) - MAX_COLUMNS_SHOWN} more")
    return shown


class _Builder:
    def __init__(self) -> None:
        self.nodes: list[dict[str, Any]] = []
        self.edges: list[list[str]] = []

    def node(self, node_id: str, label: str, obj: Any, **extra: Any) -> str:
        if len(self.nodes) >= MAX_NODES:
            return node_id
        if isinstance(obj, str):  # "passthrough"
            entry = {"id": node_id, "label": label, "class": obj, "module": None}
        else:
            cls = type(obj)
            entry = {"id": node_id, "label": label, "class": cls.__qualname__, "module": public_module(cls)}
        entry.update({k: v for k, v in extra.items() if v is not None})
        self.nodes.append(entry)
        return node_id

    def link(self, sources: list[str], targets: list[str]) -> None:
        for a in sources:
            for b in targets:
                self.edges.append([a, b])

    def add(self, obj: Any, path: str, label: str, depth: int = 0) -> tuple[list[str], list[str]]:
        """Add ``obj`` (at ``path``) and what it holds; return its entry and exit node ids."""
        if depth > 50:
            return [], []
        if isinstance(obj, str) or obj is None:
            if obj in ("drop", None):
                return [], []
            node = self.node(path, label, str(obj))
            return [node], [node]
        kind = type(obj).__name__
        steps = getattr(obj, "steps", None)
        if kind == "Pipeline" or (isinstance(steps, list) and hasattr(obj, "named_steps")):
            return self._chain(obj.steps, path, depth)
        branches = self._branches(obj)
        if branches is not None:
            me = self.node(path, label, obj)
            exits: list[str] = []
            for name, child, columns in branches:
                child_path = f"{path}__{name}" if path != ROOT else name
                entries, ends = self.add(child, child_path, name, depth + 1)
                for node in self.nodes:
                    if node["id"] in entries:
                        if columns is not None:
                            node.setdefault("columns", columns)
                        if node["id"] != child_path:  # the branch is a Pipeline: name it on its first step
                            node.setdefault("branch", name)
                self.link([me], entries)
                exits.extend(ends)
            return [me], exits or [me]
        me = self.node(path, label, obj)
        for name, child in self._held(obj):
            child_path = f"{path}__{name}" if path != ROOT else name
            entries, _ = self.add(child, child_path, name, depth + 1)
            self.link([me], entries)
        return [me], [me]

    def _chain(self, steps: list[tuple[str, Any]], path: str, depth: int) -> tuple[list[str], list[str]]:
        first: list[str] | None = None
        previous: list[str] = []
        for name, step in steps:
            step_path = f"{path}__{name}" if path != ROOT else name
            entries, exits = self.add(step, step_path, name, depth + 1)
            if not entries:
                continue
            if first is None:
                first = entries
            self.link(previous, entries)
            previous = exits
        return first or [], previous

    @staticmethod
    def _branches(obj: Any) -> list[tuple[str, Any, Any]] | None:
        kind = type(obj).__name__
        if hasattr(obj, "transformer_list") and kind != "ColumnTransformer":  # FeatureUnion and its kin
            return [(name, t, None) for name, t in obj.transformer_list]
        if hasattr(obj, "transformers") and hasattr(obj, "remainder"):  # ColumnTransformer
            fitted = getattr(obj, "transformers_", None)
            if fitted is not None:
                return [(name, t, _columns(cols)) for name, t, cols in fitted
                        if not (name == "remainder" and t == "drop")]
            out = [(name, t, _columns(cols)) for name, t, cols in obj.transformers]
            if not (isinstance(obj.remainder, str) and obj.remainder == "drop"):
                out.append(("remainder", obj.remainder, "remaining columns"))
            return out
        return None

    @staticmethod
    def _held(obj: Any) -> list[tuple[str, Any]]:
        """The estimators a meta-estimator was given (its constructor params, not fitted copies)."""
        try:
            params = obj.get_params(deep=False)
        except Exception:  # noqa: BLE001
            return []
        held: list[tuple[str, Any]] = []
        for key, value in params.items():
            if _is_estimator(value):
                held.append((key, value))
            elif isinstance(value, (list, tuple)) and value and all(
                    isinstance(v, tuple) and len(v) >= 2 and isinstance(v[0], str) for v in value):
                held.extend((name, est) for name, est, *_ in value
                            if _is_estimator(est) or est == "passthrough")
        return held


def build(estimator: Any) -> dict[str, Any]:
    """The graph of ``estimator`` (see the module docstring for the format)."""
    builder = _Builder()
    entries, _ = builder.add(estimator, ROOT, type(estimator).__name__)
    root = ROOT if any(n["id"] == ROOT for n in builder.nodes) else None
    graph: dict[str, Any] = {"nodes": builder.nodes, "edges": builder.edges, "root": root}
    if not root:
        graph["entries"] = entries
    return graph


def render_text(structure: dict[str, Any]) -> str:
    """The graph as an indented tree for a terminal (what ``sklearn.pipeline_graph`` holds, drawn).

    Each node shows its step name and class (and the columns a ColumnTransformer
    branch reads); a node reached again (the step after a fan-out) is shown as
    ``-> name``.
    """
    nodes = {n["id"]: n for n in structure.get("nodes", [])}
    children: dict[str, list[str]] = {k: [] for k in nodes}
    has_parent: set[str] = set()
    for a, b in structure.get("edges", []):
        if a in nodes and b in nodes:
            children[a].append(b)
            has_parent.add(b)
    lines: list[str] = []
    shown: set[str] = set()

    def line(node_id: str, prefix: str, connector: str) -> None:
        node = nodes[node_id]
        if node_id in shown:
            lines.append(f"{prefix}{connector}-> {node['label']}")
            return
        shown.add(node_id)
        columns = node.get("columns")
        extra = f"  [{', '.join(map(str, columns))}]" if isinstance(columns, list) else (
            f"  [{columns}]" if columns else "")
        label = f"{node['branch']}/{node['label']}" if node.get("branch") else node["label"]
        kind = "" if node["class"] == label else f"  {node['class']}"
        lines.append(f"{prefix}{connector}{label}{kind}{extra}")
        kids = children[node_id]
        deeper = prefix + ("" if not connector else ("    " if connector.startswith("└") else "│   "))
        for i, kid in enumerate(kids):
            line(kid, deeper, "└── " if i == len(kids) - 1 else "├── ")

    for root in [k for k in nodes if k not in has_parent]:
        line(root, "", "")
    return "\n".join(lines)
