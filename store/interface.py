"""The one interface every part of ModelDB uses to read and write metadata."""
from __future__ import annotations

import abc
from typing import Any, Iterable, Iterator, Sequence

from modeldb_core.model import (
    ArtifactVersion, LineageGraph, Metric, NewRun, Pipeline,
    PipelineRun, Project, ProjectSummary, Run, RunDetail, RunIO, RunPoint, Note,
)


class MetadataStore(abc.ABC):
    """Writes and reads of the metadata model. Errors are ``ModelDBError``s."""

    uri: str

    # -- writes -----------------------------------------------------------
    @abc.abstractmethod
    def apply_events(self, events: Sequence[Any], definitions: dict[str, Any] | None = None) -> None:
        """The one write entry point of tracking: apply a batch of events (``modeldb_core.events``)
        in one transaction, idempotently and in any order. ``definitions`` maps the keys the
        events use for environments and code versions to their content."""

    @abc.abstractmethod
    def resolve_run(self, ref: int | str) -> int:
        """The internal key of a run named by its uuid, a unique 8+ character prefix, or its number."""

    @abc.abstractmethod
    def create_runs(self, new_runs: Sequence[NewRun]) -> list[str]:
        """The bulk import (``log_runs``): many finished runs in one transaction; their ids."""

    @abc.abstractmethod
    def reap(self, now: float, stale_after: float, host: str,
             is_alive: Any) -> list[int]:
        """Mark runs whose process is gone as killed; return their ids."""

    # -- reads ------------------------------------------------------------
    @abc.abstractmethod
    def get_run(self, run_id: int) -> Run: ...

    @abc.abstractmethod
    def get_run_detail(self, run_id: int) -> RunDetail: ...

    @abc.abstractmethod
    def runs_by_external_id(self, external_id: str, orchestrator: str | None = None) -> list[Run]:
        """The runs of one orchestrator task instance (every try), oldest first."""

    @abc.abstractmethod
    def pipeline_runs(self, ids: Sequence[int] | None = None, external_id: str | None = None,
                      project: str | None = None, limit: int = 1000) -> list[tuple[PipelineRun, Pipeline]]:
        """Pipeline runs (by id, by the orchestrator's id, or of a project), oldest first, each
        with its pipeline (name, orchestrator, structure)."""

    @abc.abstractmethod
    def list_runs(self, project: str | None = None, limit: int = 100,
                  offset: int = 0) -> list[Run]: ...

    @abc.abstractmethod
    def list_projects(self) -> list[Project]: ...

    @abc.abstractmethod
    def metric_history(self, run_id: int, key: str) -> list[Metric]: ...

    @abc.abstractmethod
    def get_artifact_version(self, artifact_version_id: int) -> ArtifactVersion: ...

    @abc.abstractmethod
    def find_artifact_versions(self, uri_or_hash: str) -> list[ArtifactVersion]: ...

    @abc.abstractmethod
    def lineage(self, node: str, direction: str = "up", depth: int = 10) -> LineageGraph:
        """Walk input/output edges from ``run:<id>`` or ``artifact:<id>``."""

    # -- reads for the web UI (aggregates in a few statements, never one per run) --
    def project_summaries(self) -> list[ProjectSummary]:
        """Every project with run and pipeline counts, last activity, orchestrators, metric ranges."""
        raise NotImplementedError

    def run_points(self, project: str, metric: str, limit: int = 10_000,
                   with_params: bool | Sequence[str] = True) -> list[RunPoint]:
        """The latest value of ``metric`` for the newest ``limit`` runs of ``project`` that have it,
        oldest first, with all their params (``True``), none, or only the keys listed."""
        raise NotImplementedError

    def key_names(self, project: str | None = None) -> dict[str, list[str]]:
        """The distinct ``metrics``, ``params`` and ``tags`` keys (of one project, or all)."""
        raise NotImplementedError

    def inputs_and_notes(self, run_ids: Sequence[int]) -> dict[int, tuple[list[RunIO], list[Note]]]:
        """For each run id: the artifact versions it read and its notes."""
        raise NotImplementedError

    # -- the models table (modeldb_core/models_view.py's rule, compiled by store/models.py) --
    def models_overview(self, project: str) -> Any:
        """What the models table's columns need of every model of ``project`` (``ModelsOverview``:
        how many, their training params and metric names, the project's metric ranges)."""
        raise NotImplementedError

    def models_page(self, query: Any) -> Any:
        """One page of a project's models for a ``ModelsQuery`` (``ModelsPage``): filtered,
        searched, sorted and paged in the database, with its groups when asked."""
        raise NotImplementedError

    def model_trainers(self, project: str) -> dict[str, set[str]]:
        """For each run of ``project`` that read a model (trained in any project): the ids of
        the runs that trained the models it read."""
        raise NotImplementedError

    # -- search (the query layer: modeldb_core.query, compiled by store/query.py) --
    def search_runs(self, query: Any, limit: int | None = 100, offset: int = 0) -> list[Any]:
        """Runs matching a ``RunQuery``, sorted, as ``RunRecord``s (params, metrics, tags)."""
        raise NotImplementedError

    def stream_runs(self, query: Any, batch: int = 1000) -> Iterator[Any]:
        """Every run matching a ``RunQuery``, read ``batch`` at a time."""
        raise NotImplementedError

    def group_runs(self, query: Any, by: Any, metrics: Sequence[str] = ()) -> list[Any]:
        """``RunGroup``s: run count and metric count/min/max/mean per value of ``by``."""
        raise NotImplementedError

    def bulk_create_runs(self, new_runs: Sequence[NewRun]) -> list[str]:
        """The fastest way to write many runs at once; same result as ``create_runs``."""
        return self.create_runs(new_runs)

    def list_artifacts(self, search: str | None = None, kind: str | None = None,
                       limit: int = 100) -> list[dict[str, Any]]:
        """Artifacts (uri, kind, number of versions, newest version), newest first."""
        raise NotImplementedError

    def artifact_uses(self, version_ids: Sequence[int]) -> list[dict[str, Any]]:
        """The runs that wrote and read each artifact version."""
        raise NotImplementedError

    # -- access tokens of `modeldb server` (modeldb_core/tokens.py) ----------
    def add_token(self, token: Any, secret_hash: str) -> None:
        """Keep a new token (only the hash of its secret)."""
        raise NotImplementedError

    def list_tokens(self) -> list[Any]:
        """Every token (``ApiToken``), oldest first; never their secrets."""
        raise NotImplementedError

    def find_token(self, token_id: str) -> tuple[Any, str] | None:
        """A token and the hash of its secret, or None."""
        raise NotImplementedError

    def revoke_token(self, token_id: str) -> Any:
        """Revoke a token (NotFoundError if there is none); the revoked ``ApiToken``."""
        raise NotImplementedError

    # -- reproduction (store/reproduction.py; modeldb_core/reproduction) --------
    def run_recipe(self, run_id: int | str) -> dict[str, Any]:
        """What a run needs to be executed again, by part (``entry``, ``randomness``, ...)."""
        raise NotImplementedError

    def reproductions(self, run_id: int | str) -> tuple[Any, list[Any]]:
        """``(the Reproduction this run is, if any, the Reproductions of this run)``."""
        raise NotImplementedError

    # -- the model registry (store/registry.py; modeldb_core/registry) ------
    # Every change is audited in its own transaction; ``actor`` is who made it.
    def create_model(self, name: str, actor: str, project: str | None = None, description: str | None = None,
                     owner: str | None = None, tags: dict[str, str] | None = None,
                     card: dict[str, str] | None = None) -> Any:
        """The ``RegisteredModel`` named ``name``, made if new."""
        raise NotImplementedError

    def update_model(self, name: str, actor: str, reason: str | None = None, **changes: Any) -> Any:
        raise NotImplementedError

    def get_model(self, name: str) -> Any:
        raise NotImplementedError

    def list_models(self, project: str | None = None) -> list[Any]:
        raise NotImplementedError

    def register_model_version(self, name: str, artifact: ArtifactVersion, actor: str,
                               run: str | int | None = None, description: str | None = None,
                               project: str | None = None) -> Any:
        """The next ``ModelVersion`` of ``name`` for this content (the existing one if registered)."""
        raise NotImplementedError

    def model_versions(self, name: str) -> list[Any]:
        raise NotImplementedError

    def resolve_model(self, ref: Any, at: float | None = None, detail: bool = True) -> Any:
        """The ``ModelVersion`` a ``models:/name/N`` or ``models:/name@alias`` URI names (at ``at``);
        ``detail=False``: without its inputs, aliases and metrics (the fast path of loading)."""
        raise NotImplementedError

    def set_policy(self, name: str, alias: str, rules: dict[str, Any], actor: str,
                   reason: str | None = None) -> dict[str, Any]:
        raise NotImplementedError

    def get_policy(self, name: str, alias: str) -> dict[str, Any] | None:
        raise NotImplementedError

    def policies(self, name: str) -> dict[str, dict[str, Any]]:
        raise NotImplementedError

    def approve(self, ref: str, alias: str, actor: str, reason: str | None = None) -> Any:
        raise NotImplementedError

    def approvals(self, name: str) -> list[Any]:
        raise NotImplementedError

    def promote(self, ref: str, alias: str, actor: str, reason: str | None = None, force: bool = False) -> Any:
        """Move ``alias`` to the version ``ref`` names if its policy allows (``AliasMove``)."""
        raise NotImplementedError

    def alias_history(self, name: str, alias: str | None = None) -> list[Any]:
        raise NotImplementedError

    def audit_events(self, subject: str | None = None, limit: int | None = 1000) -> list[Any]:
        raise NotImplementedError

    def iter_audit(self, batch: int = 5000) -> Iterator[Any]:
        raise NotImplementedError

    def verify_audit(self) -> Any:
        """Check the audit log's hash chain (``ChainCheck``: the first broken event, if any)."""
        raise NotImplementedError

    # -- deployments (store/deployments.py): part of the registry, audited alike --------
    def record_deployment(self, ref: Any, environment: str, actor: str, endpoint: str | None = None,
                          traffic: float | None = None, reason: str | None = None,
                          run: str | int | None = None) -> Any:
        """Deploy the version ``ref`` names now to ``environment`` (``Deployment``); without
        ``traffic`` it replaces what had all the traffic of that model there."""
        raise NotImplementedError

    def retire_deployment(self, target: int | str, actor: str, environment: str | None = None,
                          reason: str | None = None) -> list[Any]:
        raise NotImplementedError

    def mark_degraded(self, deployment: Any, reason: str | None, actor: str) -> Any:
        """Mark a serving deployment ``degraded`` (what monitoring calls), audited."""
        raise NotImplementedError

    def restore_deployment(self, deployment: Any, reason: str | None, actor: str) -> Any:
        raise NotImplementedError

    def get_deployment(self, number: int | str) -> Any:
        raise NotImplementedError

    def deployments(self, model: str | None = None, environment: str | None = None, at: float | None = None,
                    history: bool = False) -> list[Any]:
        """What serves now, what served at ``at``, or (``history``) every deployment."""
        raise NotImplementedError

    # -- blobs of the artifact store (modeldb_core/artifact_store.py) -----------------
    # A database store's clients name one artifact folder, so it has nothing to move; a
    # store that is a server keeps blobs for clients that share only the server.
    def push_blob(self, artifacts: Any, content_hash: str) -> bool:
        """Make the blob ``content_hash`` of the local ``ArtifactStore`` readable by other clients
        of this store; False when there is nothing to do."""
        return False

    def pull_blob(self, artifacts: Any, content_hash: str) -> bool:
        """Copy the blob ``content_hash`` into the local ``ArtifactStore``; False when this store has none."""
        return False

    # -- schema -----------------------------------------------------------
    @abc.abstractmethod
    def upgrade(self) -> str | None: ...

    @abc.abstractmethod
    def schema_revision(self) -> str | None: ...

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> "MetadataStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__: Iterable[str] = ["MetadataStore"]
