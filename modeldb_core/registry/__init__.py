"""The model registry: models, their versions, aliases with every move kept, promotion
policies, approvals and a hash-chained audit log (docs/registry.md).

The Python entry points; the store does the work (store/registry.py). Registration
answers the caller with its version number, so it is a direct store call: it first
waits for this process's tracking events, so the run that made the model is there.
Inside a tracked task, ``@tracked_task(register_model=...)`` registers through the
tracking runtime's events instead (the task never waits on the store).
"""
from __future__ import annotations

import getpass
import os
import pickle
from typing import Any

from .model import AliasMove, Approval, AuditEvent, ChainCheck, Deployment, ModelVersion, RegisteredModel
from . import names
from .names import ModelRef, parse as parse_model_uri

__all__ = ["AliasMove", "Approval", "AuditEvent", "ChainCheck", "Deployment", "ModelRef", "ModelVersion",
           "RegisteredModel", "actor", "approve", "deployments", "load_model", "mark_degraded",
           "parse_model_uri", "promote", "record_deployment", "register_model", "resolve_model",
           "restore_deployment", "retire_deployment", "set_policy"]


def actor(settings: Any = None) -> str:
    """Who is changing the registry: the configured identity (``identity`` /
    ``MODELDB_IDENTITY``), else the OS user."""
    if settings is None:
        from modeldb_core.client import get_client

        settings = get_client().settings
    if settings.identity:
        return settings.identity
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in some containers
        return f"uid:{os.getuid()}"


def _store():
    from modeldb_core.client import get_client

    return get_client().store


def _run_id(run: Any) -> str | None:
    if run is None:
        from modeldb_core.run import active_run

        current = active_run()
        return current.id if current is not None else None
    return getattr(run, "id", None) if not isinstance(run, (str, int)) else str(run)


def register_model(name: str, run: Any = None, artifact: Any = None, description: str | None = None,
                   project: str | None = None) -> ModelVersion:
    """Register ``artifact`` (a path, URI or ``ArtifactVersion``; by default the run's output
    named ``model``) as the next version of ``name``; the same content again returns its version.
    ``run`` (an ``ActiveRun`` or run id; default: the active run) is the run that made it.
    Model names are unique per project: the model is ``project``'s, else the run's project's,
    else the one project's that holds the name, else the ``default`` project's."""
    from modeldb_core.errors import ValidationError
    from modeldb_core.fingerprint import fingerprint
    from modeldb_core.model import ArtifactVersion

    run_id = _run_id(run)
    store = _store()
    if artifact is None:
        if run_id is None:
            raise ValidationError("artifact", None, "is needed when no run is given")
        detail = store.get_run_detail(run_id)
        outputs = [o for o in detail.outputs if o.name == "model"] or detail.outputs
        if not outputs:
            raise ValidationError("artifact", None, f"run {run_id} recorded no output to register")
        version = outputs[0].artifact
    elif isinstance(artifact, ArtifactVersion):
        version = artifact
    else:
        version = fingerprint(artifact, kind="model")
    return store.register_model_version(name, version, actor(), run=run_id, description=description,
                                        project=project)


def _qualified(uri: Any, project: str | None) -> str:
    """``uri`` in ``project`` (a name several projects hold needs it: ``models:/project/name@alias``)."""
    return str(names.qualify(names.parse(uri), project))


def resolve_model(uri: str, at: float | None = None, detail: bool = True, project: str | None = None) -> ModelVersion:
    """The version ``models:/name/N`` or ``models:/name@alias`` names (as it was at ``at``);
    ``detail=False`` leaves out its inputs, aliases and metrics (one store statement). A name
    several projects hold is refused unless qualified: ``models:/project/name...`` or ``project=``."""
    return _store().resolve_model(_qualified(uri, project), at=at, detail=detail)


def load_model(uri: str, project: str | None = None) -> Any:
    """Unpickle the model file of the version ``uri`` names, after checking that its content
    hash is the one registered (a changed file is refused, never unpickled). A file that is
    not on this machine is read from the artifact store by its content hash (pulled from
    ``modeldb server`` when the store is one)."""
    from modeldb_core.errors import IntegrityError, ValidationError
    from modeldb_core.fingerprint import hash_file

    version = resolve_model(uri, detail=False, project=project)
    if not version.artifact_uri.startswith("file://"):
        raise ValidationError("model artifact", version.artifact_uri, "load_model reads local files (file://) only")
    path = version.artifact_uri[len("file://"):]
    if not os.path.exists(path):
        # Made on another machine: the artifact store has its content, here or (through
        # ``modeldb server``) pulled from the server by its hash.
        from modeldb_core.artifact_store import ArtifactStore
        from modeldb_core.client import get_client

        client = get_client()
        path = str(ArtifactStore(client.settings.artifacts, remote=client.open_store()).fetch(version.content_hash))
    digest, method, _ = hash_file(path)
    if digest != version.content_hash:
        raise IntegrityError(f"{version.uri}: {path} has content hash {digest}, not the registered "
                             f"{version.content_hash}; it changed since it was registered, refusing to unpickle it")
    with open(path, "rb") as fh:
        return pickle.load(fh)  # noqa: S301 - the content is the registered one (hash checked above)


def set_policy(name: str, alias: str, rules: dict[str, Any], reason: str | None = None,
               project: str | None = None) -> dict[str, Any]:
    return _store().set_policy(name, alias, rules, actor(), reason=reason, project=project)


def approve(uri: str, alias: str, reason: str | None = None, project: str | None = None) -> Approval:
    return _store().approve(_qualified(uri, project), alias, actor(), reason=reason)


def promote(uri: str, alias: str, reason: str | None = None, force: bool = False,
            project: str | None = None) -> AliasMove:
    return _store().promote(_qualified(uri, project), alias, actor(), reason=reason, force=force)


def record_deployment(model_ref: Any, environment: str, endpoint: str | None = None, traffic: float | None = None,
                      reason: str | None = None, run: Any = None) -> Deployment:
    """Record that the version ``model_ref`` names (``models:/pricing/3``, or ``models:/pricing@production``:
    the alias is resolved now and the version kept) serves in ``environment`` from now on.

    Without ``traffic`` it takes all the model's traffic there and what had it before ends;
    a ``traffic`` share (greater than 0, at most 1) records a canary beside it. ``run`` (default:
    the active run, e.g. a ``@tracked_task(phase="deployment")``) is linked to the deployment
    and records the model version as its input; with a run, ``model_ref=None`` deploys the
    one registered version the run read. Audited like every registry change.
    """
    return _store().record_deployment(_model_ref(model_ref), environment, actor(), endpoint=endpoint,
                                      traffic=traffic, reason=reason, run=_run_id(run))


def retire_deployment(target: Any, environment: str | None = None, reason: str | None = None) -> list[Deployment]:
    """End a deployment (its number, or a ``Deployment``), or everything of a model (or of the version
    a ``models:/`` URI names) serving in ``environment``. Returns the deployments retired."""
    if isinstance(target, Deployment):
        target = target.id
    return _store().retire_deployment(_model_ref(target), actor(), environment=environment, reason=reason)


def mark_degraded(deployment: Any, reason: str | None = None, actor: str | None = None) -> Deployment:
    """Mark a serving deployment (its number, or a ``Deployment``) ``degraded``: it keeps serving, but
    monitoring found it wanting. What a monitoring rule calls; ``actor`` defaults to the identity. Audited."""
    return _store().mark_degraded(deployment, reason, actor or _identity())


def restore_deployment(deployment: Any, reason: str) -> Deployment:
    """Put a ``degraded`` deployment (its number, or a ``Deployment``) back to ``deployed``: someone
    judged that it serves well after all. ``reason`` is required (it overrides a monitoring rule's
    verdict); the actor is the identity, as for every registry change. Audited."""
    from .deployment import restore_reason

    return _store().restore_deployment(deployment, restore_reason(reason), actor())


def _identity() -> str:
    return actor()


def deployments(model: Any = None, environment: str | None = None, at: Any = None,
                history: bool = False) -> list[Deployment]:
    """What serves now, or what served at ``at`` (seconds, a timezone-aware datetime or ISO 8601
    text), by environment; ``model`` narrows to a model or a version, ``history`` lists every one."""
    from modeldb_core import validation
    from modeldb_core.errors import ValidationError

    if isinstance(at, str):
        from modeldb_core.query.language import parse_time

        try:
            at = parse_time(at)
        except ValueError as exc:
            raise ValidationError("at", at, str(exc)) from None
    at = validation.optional_timestamp("at", at)
    return _store().deployments(model=_model_ref(model), environment=environment, at=at, history=history)


def _model_ref(value: Any) -> Any:
    """A ``ModelVersion`` or ``RegisteredModel`` stands for its URI (with its project: it names that one)."""
    if isinstance(value, ModelVersion):
        return value.qualified_uri
    if isinstance(value, RegisteredModel):
        return value.uri
    return value
