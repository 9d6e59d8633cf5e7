"""Two or more runs side by side, with the rows that differ marked."""
from __future__ import annotations

from typing import Any

from modeldb_core.errors import ValidationError
from modeldb_core.store import MetadataStore

from .encode import duration, show, when
from .runs import detail

MAX_RUNS = 12


def _row(section: str, key: str, values: list[Any]) -> dict[str, Any]:
    shown = [show(v) if v is not None else None for v in values]
    return {"section": section, "key": key, "values": shown,
            "differs": len(set(shown)) > 1}


def compare(store: MetadataStore, run_ids: list[str]) -> dict[str, Any]:
    ids = list(dict.fromkeys(store.get_run(i).id for i in run_ids))
    if len(ids) < 2:
        raise ValidationError("ids", run_ids, "compare needs at least two different runs")
    if len(ids) > MAX_RUNS:
        raise ValidationError("ids", run_ids, f"compare takes at most {MAX_RUNS} runs")
    runs = [detail(store, i) for i in ids]
    rows: list[dict[str, Any]] = []

    def section(name: str, getter) -> None:
        keys: dict[str, None] = {}
        for r in runs:
            keys.update(dict.fromkeys(getter(r)))
        for key in sorted(keys):
            rows.append(_row(name, key, [getter(r).get(key) for r in runs]))

    section("run", lambda r: {
        **{k: r["run"].get(k) for k in ("name", "project", "phase", "status", "orchestrator", "user", "host")},
        "started (UTC)": when(r["run"].get("started_at")), "duration": duration(r["run"].get("duration"))})
    section("params", lambda r: r["params"])
    section("metrics", lambda r: r["metrics"])
    section("tags", lambda r: r["tags"])
    section("code", lambda r: {k: v for k, v in (r["code_version"] or {}).items()
                               if k not in ("id", "hash", "repo_path")})
    section("environment", lambda r: {
        **{k: v for k, v in (r["environment"] or {}).items() if k in ("python_version", "platform")},
        **{f"package {p}": v for p, v in ((r["environment"] or {}).get("packages") or {}).items()}})
    section("data", lambda r: {
        **{f"input {i['name'] or i['uri']}": f"{i['uri']}@{i['short_hash']}" for i in r["inputs"]},
        **{f"output {o['name'] or o['uri']}": f"{o['uri']}@{o['short_hash']}" for o in r["outputs"]}})
    return {"runs": [{"id": r["run"]["id"], "name": r["run"]["name"], "status": r["run"]["status"]}
                     for r in runs],
            "rows": rows, "differences": sum(1 for row in rows if row["differs"])}
