"""The registry's domain: models, their versions, aliases and every move of them.

Plain dataclasses, separate from the store's rows (store/schema.py). Times are
POSIX seconds, like the rest of the metadata model.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .names import model_uri

# What a model card holds (SR 11-7 inventories and EU AI Act records ask for these).
CARD_FIELDS = ("intended_use", "limitations", "training_data", "ethical_considerations", "risk_tier")


@dataclass
class RegisteredModel:
    name: str
    id: int | None = None
    project: str | None = None
    description: str | None = None
    owner: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    card: dict[str, str] = field(default_factory=dict)
    created_at: float | None = None
    # Filled by reads that list models: alias -> version number, newest version number.
    aliases: dict[str, int] = field(default_factory=dict)
    latest_version: int | None = None

    @property
    def uri(self) -> str:
        """``models:/project/name``: names this model whatever other projects hold."""
        return model_uri(self.name, self.project)


@dataclass
class ModelVersion:
    model: str
    version: int
    artifact_uri: str
    content_hash: str
    id: int | None = None
    run_id: str | None = None  # the public id of the run that made it
    artifact_version_id: int | None = None
    description: str | None = None
    created_by: str | None = None
    created_at: float | None = None
    # The data versions its run read: (artifact version id, uri, content hash).
    inputs: list[tuple[int, str, str]] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    project: str | None = None  # the model's project
    model_id: int | None = None

    @property
    def uri(self) -> str:
        """``models:/name/N``: as users write it (enough while one project holds the name)."""
        return f"models:/{self.model}/{self.version}"

    @property
    def qualified_uri(self) -> str:
        """``models:/project/name/N``: names this version whatever other projects hold (audit subjects)."""
        return f"{model_uri(self.model, self.project)}/{self.version}"


@dataclass
class AliasMove:
    """One move of an alias: ``from_version`` → ``to_version`` (None: unset)."""

    model: str
    alias: str
    from_version: int | None
    to_version: int | None
    actor: str
    at: float
    reason: str | None = None
    forced: bool = False
    evidence: dict[str, Any] = field(default_factory=dict)
    project: str | None = None

    @property
    def uri(self) -> str:
        """``models:/project/name@alias``."""
        return f"{model_uri(self.model, self.project)}@{self.alias}"


@dataclass
class Approval:
    model: str
    version: int
    alias: str
    actor: str
    at: float
    reason: str | None = None
    project: str | None = None

    @property
    def version_uri(self) -> str:
        """``models:/project/name/N``: the version approved."""
        return f"{model_uri(self.model, self.project)}/{self.version}"


@dataclass
class AuditEvent:
    """One entry of the append-only, hash-chained audit log."""

    id: int
    at: float
    actor: str
    action: str
    subject: str
    before: Any
    after: Any
    reason: str | None
    prev_hash: str
    hash: str


@dataclass
class ChainCheck:
    """What ``audit verify`` found: how many events it checked and the first broken link."""

    checked: int
    broken_at: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_at is None


@dataclass
class Deployment:
    """A model version served in an environment, from ``since`` until ``until`` (None: now).

    ``state`` is what its owner wants of it: ``deployed``, ``degraded`` (it still serves,
    but monitoring found it wanting) or ``retired``. ``traffic`` is a canary's share of
    the environment's requests; None means all of them. ``requested`` is the reference as
    it was asked for (``models:/pricing@production``), ``version`` what it named then.
    """

    id: int
    model: str
    version: int
    environment: str
    state: str
    since: float
    until: float | None
    actor: str
    requested: str
    uuid: str
    endpoint: str | None = None
    traffic: float | None = None
    reason: str | None = None
    run_id: str | None = None  # the public id of the run that recorded it
    state_reason: str | None = None
    state_changed_at: float | None = None
    project: str | None = None  # the model's project
    model_id: int | None = None

    @property
    def uri(self) -> str:
        return f"models:/{self.model}/{self.version}"

    @property
    def qualified_uri(self) -> str:
        return f"{model_uri(self.model, self.project)}/{self.version}"

    @property
    def serving(self) -> bool:
        return self.until is None
