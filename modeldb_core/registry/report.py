"""The provenance report of a model version: what a model risk reviewer or regulator reads.

``build`` gathers it through the store's reads (the version, its run, code,
environment, params, metrics, input data, the upstream lineage of the run to its
raw sources, promotion evidence, approvals, alias history, deployments, audit events) into
one plain dict; ``markdown``, ``html`` and JSON are renderings of that dict.
"""
from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timezone
from typing import Any

from ..web.encode import jsonable  # the one rule for NaN/inf in JSON
from .model import CARD_FIELDS

FORMATS = ("md", "json", "html")
MONITORING_COLUMNS = ["version", "deployment", "batches", "last_at", "flagged", "flagged_in_a_row", "degraded",
                      "top_drift"]
# Levels (run -> data -> run) walked upstream: enough to reach the raw sources of any real
# pipeline (the walk stops where nothing is upstream); a bound only against a cycle of edges.
LINEAGE_DEPTH = 10_000


def _iso(at: float | None) -> str | None:
    return None if at is None else datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="seconds")


def build(store: Any, ref: str, at: float | None = None) -> dict[str, Any]:
    version = store.resolve_model(ref, at=at)
    model = store.get_model(version.model, project=version.project)
    named = model.uri  # models:/project/name: whatever other projects hold the name
    report: dict[str, Any] = {
        "title": f"{version.uri} ({ref})" if str(ref) != version.uri else version.uri,
        "generated_at": _iso(datetime.now(timezone.utc).timestamp()),
        "model": {"name": model.name, "project": model.project, "description": model.description,
                  "owner": model.owner, "tags": model.tags,
                  "card": {f: model.card.get(f) for f in CARD_FIELDS}, "aliases": model.aliases},
        "version": {"uri": version.uri, "version": version.version, "artifact": version.artifact_uri,
                    "content_hash": version.content_hash, "created_by": version.created_by,
                    "created_at": _iso(version.created_at), "aliases": version.aliases,
                    "description": version.description},
        "run": None, "code": None, "environment": None, "params": {}, "metrics": dict(version.metrics),
        "inputs": [{"artifact_version": i, "uri": uri, "content_hash": digest} for i, uri, digest in version.inputs],
        "lineage": {"nodes": [], "edges": []},
    }
    if version.run_id is not None:
        detail = store.get_run_detail(version.run_id)
        run = detail.run
        report["run"] = {"id": run.id, "name": run.name, "project": run.project, "phase": run.phase,
                         "status": run.status, "orchestrator": run.orchestrator, "external_id": run.external_id,
                         "user": run.user, "host": run.host, "started_at": _iso(run.started_at),
                         "ended_at": _iso(run.ended_at)}
        if detail.code_version is not None:
            code = dataclasses.asdict(detail.code_version)
            code.pop("id", None)
            report["code"] = code
        if detail.environment is not None:
            env = detail.environment
            report["environment"] = {"hash": env.hash, "python_version": env.python_version,
                                     "platform": env.platform, "packages": env.packages}
        report["params"] = detail.params
        report["metrics"] = detail.metrics
        graph = store.lineage(f"run:{run.id}", "up", depth=LINEAGE_DEPTH)
        report["lineage"] = {
            "nodes": [{"node": f"{n.kind}:{n.id}", "kind": n.kind, "label": n.label, "depth": n.depth}
                      for n in graph.nodes],
            "edges": [{"source": e.source, "target": e.target} for e in graph.edges]}
    moves = store.alias_history(named)
    report["promotions"] = [_move(m) for m in moves if m.to_version == version.version]
    report["evaluation_runs"] = sorted({r for m in moves if m.to_version == version.version
                                        for r in m.evidence.get("evaluation_runs", [])})
    report["approvals"] = [{"alias": a.alias, "actor": a.actor, "at": _iso(a.at), "reason": a.reason}
                           for a in store.approvals(named) if a.version == version.version]
    report["alias_history"] = [_move(m) for m in moves]
    report["policies"] = store.policies(named)
    # Where the model served, oldest first: this version's deployments and the model's whole history.
    report["deployments"] = [_deployment(d) for d in store.deployments(model=named, history=True)]
    report["version_deployments"] = [d for d in report["deployments"] if d["version"] == version.version]
    report["monitoring"] = _monitoring(store, version.model, version.project)
    report["audit"] = [{"id": e.id, "at": _iso(e.at), "actor": e.actor, "action": e.action,
                        "subject": e.subject, "reason": e.reason, "hash": e.hash}
                       for e in store.audit_events(named, limit=None)]
    return report


def _move(m: Any) -> dict[str, Any]:
    return {"alias": m.alias, "from": m.from_version, "to": m.to_version, "actor": m.actor, "at": _iso(m.at),
            "reason": m.reason, "forced": m.forced, "evidence": m.evidence}


def _deployment(d: Any) -> dict[str, Any]:
    return {"id": d.id, "environment": d.environment, "version": d.version, "requested": d.requested,
            "state": d.state, "traffic": d.traffic, "since": _iso(d.since), "until": _iso(d.until),
            "actor": d.actor, "endpoint": d.endpoint, "reason": d.reason, "run": d.run_id,
            "state_reason": d.state_reason}


def _monitoring(store: Any, model: str, project: str | None) -> list[dict[str, Any]]:
    """The latest monitoring state of each (version, deployment) of the model: its last batch,
    whether it was flagged, the flagged batches in a row, the most drifted features."""
    from modeldb_core.monitoring.status import latest_states

    return [{"version": s.version, "deployment": s.deployment, "batches": s.batches, "last_at": _iso(s.last_at),
             "flagged": s.flagged, "flagged_in_a_row": s.flagged_in_a_row, "degraded": s.degraded,
             "features_flagged": s.features_flagged,
             "top_drift": ", ".join(f"{feature} (PSI {psi:.3f})" for feature, psi in s.top_drift[:3])}
            for s in latest_states(store, model=model, project=project)]


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(jsonable(report), indent=2, ensure_ascii=False, sort_keys=False)


def _md_cell(value: Any) -> str:
    text = "" if value is None else (value if isinstance(value, str) else json.dumps(jsonable(value)))
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(rows: list[dict[str, Any]], columns: list[str]) -> list[str]:
    if not rows:
        return ["(none)", ""]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_md_cell(r.get(c)) for c in columns) + " |" for r in rows]
    return lines + [""]


def _md_pairs(values: dict[str, Any] | None) -> list[str]:
    if not values:
        return ["(none)", ""]
    return _md_table([{"key": k, "value": v} for k, v in values.items()], ["key", "value"])


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown that reads as is."""
    out = [f"# Provenance report: {report['title']}", "", f"Generated {report['generated_at']}.", ""]
    model, version = report["model"], report["version"]
    out += ["## Model card", ""] + _md_pairs({"name": model["name"], "owner": model["owner"],
                                               "description": model["description"], **model["card"]})
    out += ["## Version", ""] + _md_pairs(version)
    run = report["run"]
    out += ["## Run that made it", ""] + (_md_pairs(run) if run else ["(registered without a run)", ""])
    out += ["## Code version", ""] + _md_pairs(report["code"])
    env = report["environment"]
    out += ["## Environment", ""] + (_md_pairs({"python": env["python_version"], "platform": env["platform"],
                                                "hash": env["hash"], "packages": len(env["packages"])})
                                     if env else ["(none)", ""])
    out += ["## Params", ""] + _md_pairs(report["params"])
    out += ["## Metrics", ""] + _md_pairs(report["metrics"])
    out += ["## Input data", ""] + _md_table(report["inputs"], ["uri", "content_hash"])
    out += ["## Upstream lineage", "", "Every run and data version upstream of the run, to the raw sources.", ""]
    out += _md_table(report["lineage"]["nodes"], ["depth", "kind", "node", "label"])
    out += ["## Evaluation runs", ""] + ([f"- {r}" for r in report["evaluation_runs"]] + [""]
                                         if report["evaluation_runs"] else ["(none)", ""])
    out += ["## Promotion evidence", ""]
    for p in report["promotions"]:
        out.append(f"- `{p['alias']}`: v{p['from']} → v{p['to']} by {p['actor']} at {p['at']}"
                   + (" (FORCED)" if p["forced"] else "") + (f": {p['reason']}" if p["reason"] else ""))
        for verdict in p["evidence"].get("verdicts", []):
            out.append(f"  - {'passed' if verdict['passed'] else 'FAILED'}: {verdict['rule']}: {verdict['detail']}")
    out += ([] if report["promotions"] else ["(none)"]) + [""]
    out += ["## Approvals", ""] + _md_table(report["approvals"], ["alias", "actor", "at", "reason"])
    out += ["## Alias history", ""] + _md_table(report["alias_history"],
                                                ["at", "alias", "from", "to", "actor", "forced", "reason"])
    columns = ["id", "environment", "version", "state", "traffic", "since", "until", "actor", "reason"]
    out += ["## Deployments of this version", ""] + _md_table(report["version_deployments"], columns)
    out += ["## Deployment history of the model", "", "Which version served where, and when (until empty: "
            "it serves now; traffic empty: all of it).", ""]
    out += _md_table(report["deployments"], columns)
    out += ["## Latest monitoring", "", "The last monitoring batch of each version and deployment, and its drift "
            "against the version's training data.", ""]
    out += _md_table(report["monitoring"], MONITORING_COLUMNS)
    out += ["## Audit events", ""] + _md_table(report["audit"], ["id", "at", "actor", "action", "subject", "reason"])
    return "\n".join(out)


def html(report: dict[str, Any]) -> str:
    """The report as a page of its own, rendered with the web app's templates."""
    from modeldb_core.web.render import Renderer

    return Renderer().env.get_template("model_report.html").render(base="", title=report["title"], report=report)


def render(report: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return to_json(report)
    if fmt == "html":
        return html(report)
    return markdown(report)
