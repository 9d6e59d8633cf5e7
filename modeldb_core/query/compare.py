"""Compare runs side by side, and diff two runs: what changed between two model versions.

Both read ``RunDetail``s and flatten each into ``(section, key) -> value``
rows: the run itself, params, latest metrics, code version, environment
packages and input artifact versions. ``compare`` lines the rows up across
runs; ``diff`` says what was added, removed or changed from A to B.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from modeldb_core.model import RunDetail

SECTIONS = ("run", "params", "metrics", "code", "environment", "packages", "inputs", "outputs")
MISSING = object()


def _version_text(io) -> str:
    a = io.artifact
    digest = a.content_hash.split(":")[-1][:12]
    return f"{a.uri} @ {digest}"


def flatten(detail: RunDetail) -> dict[tuple[str, str], Any]:
    """Every comparable fact of a run as ``(section, key) -> value``."""
    run = detail.run
    rows: dict[tuple[str, str], Any] = {
        ("run", "name"): run.name, ("run", "project"): run.project, ("run", "phase"): run.phase,
        ("run", "status"): run.status,
        ("run", "duration"): round(run.duration, 3) if run.duration is not None else None,
        ("run", "orchestrator"): run.orchestrator,
    }
    if run.error_type:
        rows[("run", "error")] = f"{run.error_type}: {run.error_message or ''}".strip()
    for key, value in detail.params.items():
        rows[("params", key)] = value
    for key, value in detail.metrics.items():
        rows[("metrics", key)] = value
    for key, value in detail.tags.items():
        rows[("tags", key)] = value
    code = detail.code_version
    if code is not None:
        for key in ("git_commit", "git_branch", "git_dirty", "git_diff_hash", "source_file",
                    "function", "source_hash"):
            value = getattr(code, key)
            if value is not None:
                rows[("code", key)] = value
    env = detail.environment
    if env is not None:
        rows[("environment", "python")] = env.python_version
        rows[("environment", "platform")] = env.platform
        for name, version in env.packages.items():
            rows[("packages", name)] = version
    for section, ios in (("inputs", detail.inputs), ("outputs", detail.outputs)):
        for io in ios:
            rows[(section, io.name or io.artifact.uri)] = _version_text(io)
    return rows


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True  # NaN and NaN are the same recorded value
    return a == b


@dataclass(frozen=True)
class ComparedRow:
    section: str
    key: str
    values: tuple[Any, ...]  # MISSING where a run has no such fact

    @property
    def differs(self) -> bool:
        first = self.values[0]
        return any(not _same(first, v) for v in self.values[1:])


@dataclass(frozen=True)
class Comparison:
    run_ids: tuple[int, ...]
    rows: list[ComparedRow]

    def differing(self) -> list[ComparedRow]:
        """Rows whose values differ (a run's duration always does: it is not counted)."""
        return [r for r in self.rows if r.differs and (r.section, r.key) != ("run", "duration")]


def _ordered(keys) -> list[tuple[str, str]]:
    rank = {s: i for i, s in enumerate(SECTIONS + ("tags",))}
    run_order = {k: i for i, k in enumerate(("name", "project", "phase", "status", "duration",
                                             "orchestrator", "error"))}
    return sorted(keys, key=lambda k: (rank.get(k[0], 99),
                                       run_order.get(k[1], 99) if k[0] == "run" else 0, k[1]))


def compare(details: Sequence[RunDetail]) -> Comparison:
    flat = [flatten(d) for d in details]
    keys = _ordered({k for f in flat for k in f})
    rows = [ComparedRow(section, key, tuple(f.get((section, key), MISSING) for f in flat))
            for section, key in keys]
    return Comparison(run_ids=tuple(d.run.id for d in details), rows=rows)


@dataclass(frozen=True)
class Change:
    section: str
    key: str
    kind: str  # added, removed, changed
    old: Any = None
    new: Any = None


def diff(a: RunDetail, b: RunDetail) -> list[Change]:
    """What changed from run ``a`` to run ``b``, section by section."""
    fa, fb = flatten(a), flatten(b)
    changes = []
    for section, key in _ordered(set(fa) | set(fb)):
        if section == "run" and key == "duration":
            continue  # always differs; not a change anyone made
        old, new = fa.get((section, key), MISSING), fb.get((section, key), MISSING)
        if old is MISSING:
            changes.append(Change(section, key, "added", new=new))
        elif new is MISSING:
            changes.append(Change(section, key, "removed", old=old))
        elif not _same(old, new):
            changes.append(Change(section, key, "changed", old=old, new=new))
    return changes


def compare_runs(run_ids: Sequence[int], store=None) -> Comparison:
    from . import _resolve_store

    opened, owned = _resolve_store(store)
    try:
        return compare([opened.get_run_detail(int(i)) for i in run_ids])
    finally:
        if owned:
            opened.close()


def diff_runs(a: int, b: int, store=None) -> list[Change]:
    from . import _resolve_store

    opened, owned = _resolve_store(store)
    try:
        return diff(opened.get_run_detail(int(a)), opened.get_run_detail(int(b)))
    finally:
        if owned:
            opened.close()
