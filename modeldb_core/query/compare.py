"""What a comparison of runs is: the one definition that ``modeldb runs compare``, ``modeldb runs
diff``, the web's ``/compare`` page and ``/api/compare`` all show.

Each run's ``RunDetail`` is flattened into ``(section, key) -> value`` rows, in
these sections, in this order:

- ``run``: name, project, phase, status, orchestrator, user, host, started (ISO 8601),
  duration (seconds), error;
- ``params``, ``metrics`` (latest values), ``tags``;
- ``code``: git commit, branch, dirty flag, file, function; the diff and source
  hashes to ``HASH_LENGTH`` hex digits;
- ``environment``: python, platform; ``packages``: one row per installed package;
- ``inputs`` and ``outputs``: one row per artifact read or written (its name,
  else its URI), valued ``uri@hash`` with the hash to ``HASH_LENGTH`` digits.

A row *differs* when its values are not all equal (NaN equals NaN; a run
without the row differs from one with it). ``started`` and ``duration`` differ
between any two runs, so they are shown but never counted as a difference.
The values stay what was recorded (numbers are numbers): JSON answers carry them
as they are, and text shows them by ``modeldb_core.presentation`` (durations read
as durations).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from modeldb_core.model import RunDetail
from modeldb_core.presentation import duration, iso, short_hash, text

SECTIONS = ("run", "params", "metrics", "tags", "code", "environment", "packages", "inputs", "outputs")
RUN_KEYS = ("name", "project", "phase", "status", "orchestrator", "user", "host", "started",
            "duration", "error")
CODE_KEYS = ("git_commit", "git_branch", "git_dirty", "git_diff_hash", "source_file", "function",
             "source_hash")
# Rows every two runs differ in: shown, never counted as a difference.
INCIDENTAL = frozenset({("run", "started"), ("run", "duration")})
# A comparison is read side by side: more runs than this do not fit a screen (or an answer).
MAX_RUNS = 12
MISSING = None  # what a run without a row has in that row's values (JSON null)


def _version(io) -> str:
    return f"{io.artifact.uri}@{short_hash(io.artifact.content_hash)}"


def flatten(detail: RunDetail) -> dict[tuple[str, str], Any]:
    """Every comparable fact of a run as ``(section, key) -> value``."""
    run = detail.run
    facts = {"name": run.name, "project": run.project, "phase": run.phase, "status": run.status,
             "orchestrator": run.orchestrator, "user": run.user, "host": run.host,
             "started": iso(run.started_at),
             "duration": round(run.duration, 3) if run.duration is not None else None}
    if run.error_type or run.error_message:
        facts["error"] = f"{run.error_type or 'Error'}: {run.error_message or ''}".strip()
    rows: dict[tuple[str, str], Any] = {("run", k): v for k, v in facts.items() if v is not None}
    for section, values in (("params", detail.params), ("metrics", detail.metrics), ("tags", detail.tags)):
        for key, value in values.items():
            rows[(section, key)] = value
    code = detail.code_version
    if code is not None:
        for key in CODE_KEYS:
            value = getattr(code, key)
            if key.endswith("_hash"):
                value = short_hash(value) or None
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
            key = io.name or io.artifact.uri
            while (section, key) in rows:  # two unnamed inputs of one kind keep a row each
                key += "'"
            rows[(section, key)] = _version(io)
    return rows


def same(a: Any, b: Any) -> bool:
    """Equal as recorded values: NaN and NaN are the same value."""
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True
    return isinstance(a, bool) == isinstance(b, bool) and a == b  # true is not the number 1


def _ordered(keys) -> list[tuple[str, str]]:
    rank = {s: i for i, s in enumerate(SECTIONS)}
    run_rank = {k: i for i, k in enumerate(RUN_KEYS)}
    return sorted(keys, key=lambda k: (rank.get(k[0], len(rank)),
                                       run_rank.get(k[1], 99) if k[0] == "run" else 0, k[1]))


def shown(section: str, key: str, value: Any) -> str | None:
    """One value of a row as text (``None`` where the run has no such row)."""
    if value is MISSING:
        return None
    if (section, key) == ("run", "duration"):
        return duration(value)
    return text(value)


@dataclass(frozen=True)
class ComparedRun:
    id: str
    name: str
    status: str


@dataclass(frozen=True)
class ComparedRow:
    section: str
    key: str
    values: tuple[Any, ...]  # MISSING where a run has no such row

    @property
    def differs(self) -> bool:
        if (self.section, self.key) in INCIDENTAL:
            return False
        first = self.values[0]
        return any(not same(first, v) for v in self.values[1:])

    def texts(self) -> list[str | None]:
        return [shown(self.section, self.key, v) for v in self.values]

    def as_dict(self) -> dict[str, Any]:
        return {"section": self.section, "key": self.key, "values": list(self.values),
                "differs": self.differs}


@dataclass(frozen=True)
class Comparison:
    runs: tuple[ComparedRun, ...]
    rows: list[ComparedRow]

    @property
    def run_ids(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.runs)

    def differing(self) -> list[ComparedRow]:
        return [r for r in self.rows if r.differs]

    def as_dict(self, only_differences: bool = False) -> dict[str, Any]:
        """The comparison as JSON-able data (NaN and infinities still floats: the encoder's job)."""
        rows = self.differing() if only_differences else self.rows
        return {"runs": [{"id": r.id, "name": r.name, "status": r.status} for r in self.runs],
                "rows": [r.as_dict() for r in rows],
                "differences": len(self.differing())}


def compare(details: Sequence[RunDetail]) -> Comparison:
    flat = [flatten(d) for d in details]
    keys = _ordered({k for f in flat for k in f})
    rows = [ComparedRow(section, key, tuple(f.get((section, key), MISSING) for f in flat))
            for section, key in keys]
    return Comparison(runs=tuple(ComparedRun(str(d.run.id), d.run.name, d.run.status) for d in details),
                      rows=rows)


def check_run_ids(run_ids: Sequence[Any]) -> list[str]:
    """The ids of a comparison, validated before the store is asked: two to ``MAX_RUNS``."""
    from modeldb_core.errors import ValidationError
    from modeldb_core.validation import record_id

    if len(run_ids) > MAX_RUNS:
        raise ValidationError("ids", f"{len(run_ids)} ids", f"compare takes at most {MAX_RUNS} runs")
    return [str(record_id("run id", v)) for v in run_ids]


def compare_in(store, run_ids: Sequence[Any]) -> Comparison:
    """The comparison of runs of ``store`` (ids, id prefixes or names the store resolves; a
    run named twice counts once); fewer than two different runs is a ``ValidationError``."""
    from modeldb_core.errors import ValidationError

    details: dict[str, RunDetail] = {}
    for run_id in check_run_ids(run_ids):
        detail = store.get_run_detail(run_id)
        details.setdefault(str(detail.run.id), detail)
    if len(details) < 2:
        raise ValidationError("ids", list(run_ids), "compare needs at least two different runs")
    return compare(list(details.values()))


@dataclass(frozen=True)
class Change:
    section: str
    key: str
    kind: str  # added, removed, changed
    old: Any = None
    new: Any = None


def diff(a: RunDetail, b: RunDetail) -> list[Change]:
    """What changed from run ``a`` to run ``b``, section by section (the rows of ``compare``)."""
    fa, fb = flatten(a), flatten(b)
    changes = []
    for section, key in _ordered(set(fa) | set(fb)):
        if (section, key) in INCIDENTAL:
            continue  # always differs; not a change anyone made
        old, new = fa.get((section, key), MISSING), fb.get((section, key), MISSING)
        if (section, key) not in fa:
            changes.append(Change(section, key, "added", new=new))
        elif (section, key) not in fb:
            changes.append(Change(section, key, "removed", old=old))
        elif not same(old, new):
            changes.append(Change(section, key, "changed", old=old, new=new))
    return changes


def compare_runs(run_ids: Sequence[Any], store=None) -> Comparison:
    """``compare`` for the Python API: the configured store unless one is given."""
    from . import _resolve_store

    opened, owned = _resolve_store(store)
    try:
        return compare_in(opened, run_ids)
    finally:
        if owned:
            opened.close()


def diff_runs(a: Any, b: Any, store=None) -> list[Change]:
    from . import _resolve_store

    opened, owned = _resolve_store(store)
    try:
        return diff(opened.get_run_detail(a), opened.get_run_detail(b))
    finally:
        if owned:
            opened.close()
