"""The store methods a remote client calls on ``modeldb server``, declared once.

Each ``Route`` names a method of the store interface (store/interface.py), the HTTP
verb and path that carry it, the scope a token needs (``read`` or ``write``), how its
arguments travel and the type of its answer. The server registers one handler per
route (``modeldb_core/server/store_api.py``: it calls the SQL store's method as is),
and ``HttpStore`` makes its requests from the same route, so the two cannot drift
apart and a remote call has the local call's semantics by construction.

Arguments: the ``{placeholders}`` of the path; the rest in the query string of a
``GET`` (typed by ``args``) or in the JSON body of a write. Answers and bodies use the
one codec of ``modeldb_core/wire.py`` (``to_json``/``from_json``); errors travel as
``wire.error_to_json`` describes. Only the standard library is imported here: the
client needs no web framework.
"""
from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Any

from modeldb_core.model import ArtifactVersion, LineageGraph, Pipeline, PipelineRun, Reproduction, Run
from modeldb_core.registry.model import (
    AliasMove, Approval, AuditEvent, ChainCheck, Deployment, ModelVersion, RegisteredModel,
)

PREFIX = "/api/v1"
READ, WRITE = "read", "write"


@dataclass(frozen=True)
class Route:
    method: str  # the store interface's method
    verb: str
    path: str  # under PREFIX; ``{name}`` placeholders are arguments
    scope: str
    returns: Any
    args: dict[str, Any] = field(default_factory=dict)  # the other arguments and their types
    spread: str | None = None  # an argument whose mapping is passed as keyword arguments

    @property
    def url_path(self) -> str:
        return PREFIX + self.path

    @property
    def path_args(self) -> tuple[str, ...]:
        return tuple(name for _, name, _, _ in string.Formatter().parse(self.path) if name)

    @property
    def in_query(self) -> bool:
        return self.verb == "GET"


def _route(method: str, verb: str, path: str, returns: Any, scope: str | None = None, spread: str | None = None,
           **args: Any) -> Route:
    return Route(method, verb, path, scope or (READ if verb == "GET" else WRITE), returns, args, spread)


_optional_str = str | None
_ref = str | int | None  # a run, a deployment: its id or number

ROUTES: tuple[Route, ...] = (
    # -- the model registry --------------------------------------------------------------
    _route("list_models", "GET", "/models", list[RegisteredModel], project=_optional_str),
    _route("create_model", "POST", "/models", RegisteredModel, name=str, actor=str, project=_optional_str,
           description=_optional_str, owner=_optional_str, tags=dict[str, str] | None,
           card=dict[str, str] | None),
    # A model is ``{name}`` with ``project`` beside it (a project may hold '/'): needed when
    # several projects hold the name (names.py).
    _route("get_model", "GET", "/models/{name}", RegisteredModel, project=_optional_str),
    _route("update_model", "PATCH", "/models/{name}", RegisteredModel, spread="changes", actor=str,
           reason=_optional_str, project=_optional_str, changes=dict[str, Any]),
    _route("model_versions", "GET", "/models/{name}/versions", list[ModelVersion], project=_optional_str),
    _route("register_model_version", "POST", "/models/{name}/versions", ModelVersion,
           artifact=ArtifactVersion, actor=str, run=_ref, description=_optional_str, project=_optional_str),
    _route("resolve_model", "GET", "/model-versions", ModelVersion, ref=str, at=float | None, detail=bool),
    _route("policies", "GET", "/models/{name}/policies", dict[str, dict[str, Any]], project=_optional_str),
    _route("get_policy", "GET", "/models/{name}/policies/{alias}", dict[str, Any] | None, project=_optional_str),
    _route("set_policy", "PUT", "/models/{name}/policies/{alias}", dict[str, Any], rules=dict[str, Any],
           actor=str, reason=_optional_str, project=_optional_str),
    _route("approvals", "GET", "/models/{name}/approvals", list[Approval], project=_optional_str),
    _route("approve", "POST", "/approvals", Approval, ref=str, alias=str, actor=str, reason=_optional_str),
    _route("promote", "POST", "/promotions", AliasMove, ref=str, alias=str, actor=str, reason=_optional_str,
           force=bool),
    _route("alias_history", "GET", "/models/{name}/alias-history", list[AliasMove], alias=_optional_str,
           project=_optional_str),
    _route("audit_events", "GET", "/audit", list[AuditEvent], subject=_optional_str, limit=int | None),
    _route("verify_audit", "GET", "/audit/verify", ChainCheck),
    # -- deployments -------------------------------------------------------------------
    _route("deployments", "GET", "/deployments", list[Deployment], model=_optional_str,
           environment=_optional_str, at=float | None, history=bool),
    _route("record_deployment", "POST", "/deployments", Deployment, ref=_optional_str, environment=str,
           actor=str, endpoint=_optional_str, traffic=float | None, reason=_optional_str, run=_ref),
    _route("get_deployment", "GET", "/deployments/{number}", Deployment, number=_ref),
    _route("retire_deployment", "POST", "/deployments/retirements", list[Deployment], target=str | int,
           actor=str, environment=_optional_str, reason=_optional_str),
    _route("mark_degraded", "POST", "/deployments/{deployment}/degraded", Deployment, deployment=_ref,
           reason=_optional_str, actor=str),
    _route("restore_deployment", "POST", "/deployments/{deployment}/restored", Deployment, deployment=_ref,
           reason=_optional_str, actor=str),
    # -- what the report, monitoring and reproduce read beside runs ----------------------
    _route("lineage", "GET", "/graph", LineageGraph, node=str, direction=str, depth=int),
    _route("get_artifact_version", "GET", "/artifact-versions/{artifact_version_id}", ArtifactVersion,
           artifact_version_id=int),
    _route("find_artifact_versions", "GET", "/artifact-versions", list[ArtifactVersion], uri_or_hash=str),
    _route("artifact_uses", "POST", "/artifact-uses", list[dict[str, Any]], scope=READ,
           version_ids=list[int]),
    _route("runs_by_external_id", "GET", "/task-instances/{external_id}/runs", list[Run],
           orchestrator=_optional_str),
    _route("pipeline_runs", "POST", "/pipeline-runs", list[tuple[PipelineRun, Pipeline]], scope=READ,
           ids=list[int] | None, external_id=_optional_str, project=_optional_str, limit=int),
    _route("run_recipe", "GET", "/runs/{run_id}/recipe", dict[str, Any], run_id=_ref),
    _route("reproductions", "GET", "/runs/{run_id}/reproductions",
           tuple[Reproduction | None, list[Reproduction]], run_id=_ref),
)

BY_METHOD: dict[str, Route] = {r.method: r for r in ROUTES}
# ``iter_audit``: the whole log, oldest first, one JSON event a line as the store reads it
# (``store_api.py``), so neither side holds a long log whole.
AUDIT_STREAM_PATH = PREFIX + "/audit/all"


def query_value(expected: Any, text: str) -> Any:
    """A query-string argument as the type its route declares (``int``, ``float``, ``bool``, text)."""
    from modeldb_core.errors import ValidationError

    import typing

    if text == "":
        return None  # written for None (``query_text``): ``limit=`` is no limit, not the default
    kinds = {expected} if isinstance(expected, type) else set(typing.get_args(expected))
    try:
        if bool in kinds:
            if text not in ("true", "false"):
                raise ValueError("must be true or false")
            return text == "true"
        if int in kinds and (str not in kinds or text.isdigit()):
            return int(text)  # a number where a number or a name is taken (a deployment's, a run's)
        if float in kinds:
            return float(text)
    except ValueError as exc:
        raise ValidationError("query", text, str(exc)) from None
    return text


def query_text(value: Any) -> str:
    """How a query-string argument is written (``query_value`` reads it back)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


__all__ = ["BY_METHOD", "ROUTES", "Route", "query_text", "query_value"]
