"""The metadata model: plain dataclasses, independent of how they are stored.

Times are POSIX timestamps (float seconds, UTC). Ids are integers assigned by
the store.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Phase(str, enum.Enum):
    """The lifecycle phase of a model a run belongs to."""

    DATA_PREP = "data_prep"
    FEATURE_ENGINEERING = "feature_engineering"
    TRAINING = "training"
    EVALUATION = "evaluation"
    DEPLOYMENT = "deployment"
    MONITORING = "monitoring"


class RunStatus(str, enum.Enum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    KILLED = "killed"
    SKIPPED = "skipped"

    @property
    def finished(self) -> bool:
        return self is not RunStatus.RUNNING


class Direction(str, enum.Enum):
    """Which way an artifact version flows for a run."""

    INPUT = "input"
    OUTPUT = "output"


@dataclass(frozen=True)
class Project:
    id: int
    name: str
    description: str | None = None
    created_at: float | None = None


@dataclass(frozen=True)
class Pipeline:
    """A workflow definition (a DAG, a Luigi root task, a Prefect flow, a script).

    ``structure`` is ``{"tasks": [...], "edges": [[upstream, downstream], ...]}``;
    ``structure_hash`` versions the pipeline by that structure.
    """

    id: int
    project_id: int
    name: str
    orchestrator: str
    structure_hash: str
    structure: dict[str, Any] = field(default_factory=dict)
    created_at: float | None = None


@dataclass(frozen=True)
class PipelineRun:
    id: int
    pipeline_id: int
    external_id: str
    status: str = RunStatus.RUNNING.value
    started_at: float | None = None
    ended_at: float | None = None


@dataclass(frozen=True)
class CodeVersion:
    """Where the code of a run came from; deduplicated by ``hash``."""

    hash: str
    git_commit: str | None = None
    git_branch: str | None = None
    git_dirty: bool | None = None
    git_diff_hash: str | None = None
    repo_path: str | None = None
    source_file: str | None = None
    function: str | None = None
    source_hash: str | None = None
    id: int | None = None


@dataclass(frozen=True)
class Environment:
    """The Python environment of a run; deduplicated by ``hash``."""

    hash: str
    python_version: str
    platform: str
    packages: dict[str, str] = field(default_factory=dict)
    id: int | None = None


@dataclass(frozen=True)
class Metric:
    key: str
    value: float
    step: int
    timestamp: float


@dataclass(frozen=True)
class Note:
    text: str
    created_at: float
    id: int | None = None


@dataclass(frozen=True)
class ArtifactVersion:
    """One content of an artifact: a file, table, array, model or feature set.

    ``content_hash`` is ``"<algorithm>:<hex>"``; ``fingerprint_method`` says how
    it was computed (``full`` or ``sampled:...``) so a reader knows how far to
    trust it. ``metadata`` holds shape, schema, dtypes or columns.
    """

    uri: str
    kind: str
    content_hash: str
    size: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    fingerprint_method: str = "full"
    id: int | None = None
    artifact_id: int | None = None
    created_at: float | None = None


@dataclass(frozen=True)
class RunIO:
    """An edge between a run and an artifact version it read or wrote."""

    direction: str
    name: str | None
    artifact: ArtifactVersion


@dataclass(frozen=True)
class Run:
    """One execution of one task: the unit that is tracked, listed and compared.

    ``id`` is the run's public id, the UUIDv7 its tracking client made when it
    started; ``key`` is the store's own integer key (which earlier versions showed
    as the id, and which still resolves). ``parent_run_id`` is the parent's id.
    """

    id: str
    project_id: int
    name: str
    status: str
    started_at: float
    phase: str | None = None
    ended_at: float | None = None
    project: str | None = None
    pipeline_run_id: int | None = None
    parent_run_id: str | None = None
    orchestrator: str | None = None
    external_id: str | None = None
    try_number: int | None = None
    user: str | None = None
    host: str | None = None
    pid: int | None = None
    heartbeat_at: float | None = None
    code_version_id: int | None = None
    environment_id: int | None = None
    error_type: str | None = None
    error_message: str | None = None
    error_traceback: str | None = None
    key: int | None = None
    end_seq: int | None = None

    @property
    def uuid(self) -> str:
        return self.id

    @property
    def parent_uuid(self) -> str | None:
        return self.parent_run_id

    @classmethod
    def from_row(cls, row: Any) -> "Run":
        """A run from a row of the runs table (``id`` is the key there, ``uuid`` the id)."""
        values = dict(row)
        values["key"] = values.pop("id")
        values["id"] = values.pop("uuid", None) or str(values["key"])
        values["parent_run_id"] = values.pop("parent_uuid", None) or values.get("parent_run_id")
        return cls(**values)

    @property
    def duration(self) -> float | None:
        if self.ended_at is None:
            return None
        return self.ended_at - self.started_at


@dataclass(frozen=True)
class RunDetail:
    """A run with everything recorded about it."""

    run: Run
    params: dict[str, Any]
    metrics: dict[str, float]
    metric_history: dict[str, list[Metric]]
    tags: dict[str, str]
    notes: list[Note]
    inputs: list[RunIO]
    outputs: list[RunIO]
    code_version: CodeVersion | None
    environment: Environment | None
    children: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LineageNode:
    """A node of the lineage graph: a run or an artifact version."""

    kind: str  # "run" or "artifact"
    id: int | str  # a run's public id, an artifact version's number
    label: str
    depth: int


@dataclass(frozen=True)
class LineageEdge:
    """``source`` -> ``target``; node keys are ``"run:<id>"`` / ``"artifact:<id>"``."""

    source: str
    target: str


@dataclass(frozen=True)
class LineageGraph:
    root: str
    nodes: list[LineageNode]
    edges: list[LineageEdge]


@dataclass
class NewRun:
    """What the tracker hands the store to create a run."""

    project: str
    name: str
    started_at: float
    phase: str | None = None
    status: str = RunStatus.RUNNING.value
    pipeline_run_id: int | None = None
    parent_run_id: int | None = None
    orchestrator: str | None = None
    external_id: str | None = None
    try_number: int | None = None
    user: str | None = None
    host: str | None = None
    pid: int | None = None
    code_version_id: int | None = None
    environment_id: int | None = None
    params: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: list[Metric] = field(default_factory=list)
    ended_at: float | None = None
    # A run recorded once it has finished (one write instead of a create and an
    # update) comes with how it ended, its notes and its lineage edges.
    error_type: str | None = None
    error_message: str | None = None
    error_traceback: str | None = None
    notes: list[str] = field(default_factory=list)
    inputs: list[tuple[str | None, ArtifactVersion]] = field(default_factory=list)
    outputs: list[tuple[str | None, ArtifactVersion]] = field(default_factory=list)
    uuid: str | None = None  # made by the client; the bulk path makes one when it is None


# -- read models of the web UI's summaries (added for issue 5) ----------------
@dataclass(frozen=True)
class MetricRange:
    """How one metric key is spread over a project's runs (latest values)."""

    runs: int
    evaluation_runs: int
    minimum: float | None
    maximum: float | None


@dataclass(frozen=True)
class ProjectSummary:
    """A project with its aggregates, as the projects overview shows it."""

    project: Project
    runs: int
    pipelines: int
    last_activity: float | None
    orchestrators: list[str]
    metrics: dict[str, MetricRange] = field(default_factory=dict)


@dataclass(slots=True)
class RunPoint:
    """One run as a point of a chart: a metric's latest value and the run's params.

    Not frozen: a chart reads 10,000 of them, and frozen init costs three times as much.
    """

    run_id: str
    name: str
    status: str
    phase: str | None
    started_at: float
    value: float
    params: dict[str, Any] = field(default_factory=dict)


# -- reproduction (issue 17; modeldb_core/reproduction) ----------------------------
@dataclass(frozen=True)
class Reproduction:
    """``run_id`` re-executed ``original_run_id``; ``verdict`` once it was compared
    (``identical``, ``within_tolerance``, ``different``, ``failed``)."""

    run_id: str
    original_run_id: str
    verdict: str | None
    details: dict[str, Any]
    created_at: float
