"""``modeldb lineage``: walk input/output edges up (where it came from) or down (what it fed)."""
from __future__ import annotations

import click

from . import output

FORMATS = ("table", "json", "dot", "mermaid")


def resolve_node(store, text: str) -> str:
    """``run:<id>`` (a run's id, a unique 8+ character prefix of it, or its old number),
    ``artifact:5``, a bare run id, or an artifact: URI, path, content hash or its prefix (newest version)."""
    from modeldb_core.errors import NotFoundError, ValidationError

    from .lookup import artifact_versions

    text = text.strip()
    kind, sep, raw = text.partition(":")
    if sep and kind == "artifact" and raw.isdigit():
        from modeldb_core.validation import record_id

        return f"artifact:{record_id('artifact id', raw)}"
    if sep and kind == "run":
        return f"run:{store.get_run(raw).id}"
    if not sep:
        try:
            return f"run:{store.get_run(text).id}"
        except (NotFoundError, ValidationError):
            pass  # not a run: an artifact's path, hash or hash prefix
    return f"artifact:{max(v.id for v in artifact_versions(store, text))}"


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(graph) -> str:
    lines = ["digraph lineage {", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    for n in graph.nodes:
        key = f"{n.kind}:{n.id}"
        if n.kind == "run":
            shape, label = "box", f"run {n.id}\n{n.label}"
        else:
            shape, label = "ellipse", n.label
        style = ", style=bold" if key == graph.root else ""
        lines.append(f"  {_dot_quote(key)} [shape={shape}, label={_dot_quote(label)}{style}];")
    for e in graph.edges:
        lines.append(f"  {_dot_quote(e.source)} -> {_dot_quote(e.target)};")
    lines.append("}")
    return "\n".join(lines)


def _mermaid_id(key: str) -> str:
    return key.replace(":", "_").replace("-", "_")


def _mermaid_label(text: str) -> str:
    # Mermaid labels are quoted; quotes and angle brackets become entities.
    return (text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;")
            .replace(">", "#gt;"))


def to_mermaid(graph) -> str:
    lines = ["flowchart LR"]
    for n in graph.nodes:
        key = _mermaid_id(f"{n.kind}:{n.id}")
        if n.kind == "run":
            lines.append(f'  {key}["run {n.id}: {_mermaid_label(n.label)}"]')
        else:
            lines.append(f'  {key}(["{_mermaid_label(n.label)}"])')
    for e in graph.edges:
        lines.append(f"  {_mermaid_id(e.source)} --> {_mermaid_id(e.target)}")
    return "\n".join(lines)


def to_json(graph) -> dict:
    return {"root": graph.root,
            "nodes": [{"key": f"{n.kind}:{n.id}", "kind": n.kind, "id": n.id, "label": n.label,
                       "depth": n.depth} for n in graph.nodes],
            "edges": [{"source": e.source, "target": e.target} for e in graph.edges]}


@click.command("lineage")
@click.argument("node", metavar="RUN_OR_ARTIFACT")
@click.option("--up", "direction", flag_value="up", default=True,
              help="Upstream: the data and runs it came from (default).")
@click.option("--down", "direction", flag_value="down", help="Downstream: everything it fed.")
@click.option("--depth", "-d", type=click.IntRange(1, 1000), default=10, show_default=True,
              help="How many edges to follow.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="table (default), json, dot or mermaid.")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.pass_obj
def lineage(obj, node: str, direction: str, depth: int, fmt: str | None, as_json: bool) -> None:
    """Walk lineage from RUN_OR_ARTIFACT.

    \b
    RUN_OR_ARTIFACT is one of:
      run:ID or a run id          a run
      artifact:ID                 an artifact version
      data/train.csv              a file or folder (the path as tracked; relative is fine)
      file:///data/train.csv      any artifact URI
      3f2a9c0e41b7                a content hash, or any unique prefix (the CLI prints 12 characters)

    Edges point the way data flows (producer -> artifact -> consumer), across
    pipelines and orchestrators: the same file written by an Airflow task and
    read by a Prefect flow is one node.
    """
    if as_json and fmt not in (None, "json"):
        raise click.UsageError(f"--json and --format {fmt} cannot be used together: choose one output format")
    fmt = "json" if as_json else (fmt or "table")
    store = obj.store
    root = resolve_node(store, node)
    graph = store.lineage(root, direction=direction, depth=depth)
    if fmt == "json":
        click.echo(output.dumps(to_json(graph), indent=2))
    elif fmt == "dot":
        click.echo(to_dot(graph))
    elif fmt == "mermaid":
        click.echo(to_mermaid(graph))
    else:
        _table(graph, direction)


def _table(graph, direction: str) -> None:
    # For each node, the neighbours one step closer to the root: how it was reached.
    via: dict[str, list[str]] = {}
    for e in graph.edges:
        near, far = (e.target, e.source) if direction == "up" else (e.source, e.target)
        via.setdefault(far, []).append(near)
    depth = {f"{n.kind}:{n.id}": n.depth for n in graph.nodes}
    rows = []
    for n in graph.nodes:
        key = f"{n.kind}:{n.id}"
        parents = sorted({p for p in via.get(key, []) if depth.get(p) == n.depth - 1})
        rows.append({"depth": n.depth, "node": key, "label": n.label,
                     "reached from": ", ".join(parents)})
    word = "upstream of" if direction == "up" else "downstream of"
    click.echo(f"Lineage {word} {graph.root}: {len(graph.nodes) - 1} node(s), {len(graph.edges)} edge(s)")
    output.emit(rows, ["depth", "node", "label", "reached from"], output.TABLE)


def register(cli: click.Group) -> None:
    cli.add_command(lineage)
