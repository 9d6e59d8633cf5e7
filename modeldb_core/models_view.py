"""Models, not runs: one row per model a run produced, with the params that made it and every metric it earned.

The rule (docs/models.md):

- A **model** is an artifact version a run wrote that is either of kind
  ``model`` (scikit-learn autolog) or written by a run of phase ``training``
  (a model file written by user code), in-memory values and folders (a
  pipeline's work folder) excepted.
- The run that wrote it is its **training run**; its params are the model's
  **training params**.
- A run of another task that read the model is an **evaluation** of it.
- The **metrics of a model** are its training run's latest values, then those of
  the runs that evaluated it, oldest first: an evaluation's value wins over the
  training run's for the same name (held-out beats in-sample), a later
  evaluation over an earlier one.
- Metric names are **aligned**: scikit-learn's function names are read under
  the short names user code logs (``root_mean_squared_error`` is ``rmse``...,
  ``METRIC_ALIASES``); a run that logged both keeps the short name's value.

The store applies the rule in SQL (``store/models.py``: ``MetadataStore.models_overview``,
``models_page``, ``model_trainers``); this module holds its names, its dataclasses, and what
is built from a page of models.

So an ``evaluate_model`` run that logged ``rmse`` with file paths for params
is shown, in the models table, the timeline and ``modeldb best``, with the
learning rate of the ``train_model`` run that wrote the model it read.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from modeldb_core.model import ArtifactVersion, Note, RunIO

if TYPE_CHECKING:
    from modeldb_core.query.records import RunRecord
    from modeldb_core.store import MetadataStore

# scikit-learn's metric functions -> the name people log by hand.
METRIC_ALIASES = {
    "root_mean_squared_error": "rmse",
    "mean_squared_error": "mse",
    "mean_absolute_error": "mae",
    "mean_absolute_percentage_error": "mape",
    "r2_score": "r2",
    "accuracy_score": "accuracy",
    "balanced_accuracy_score": "balanced_accuracy",
    "f1_score": "f1",
    "precision_score": "precision",
    "recall_score": "recall",
    "roc_auc_score": "roc_auc",
}

MODEL_KIND = "model"
TRAINING_PHASE = "training"
# Inputs of a training run named like this are the data it was judged on, not trained on.
_EVALUATION_DATA_WORDS = ("eval", "test", "valid", "holdout")
# Where scikit-learn autolog records the estimator's class.
_TAG_MODEL_TYPE = "sklearn.estimator_class"


def canonical_metric(key: str) -> str:
    """The aligned name of a metric: ``root_mean_squared_error`` -> ``rmse``; other names unchanged."""
    return METRIC_ALIASES.get(key, key)


def metric_spellings(key: str) -> list[str]:
    """Every recorded name that means metric ``key``: its aligned name first, then the aliases."""
    name = canonical_metric(key)
    return [name, *sorted(alias for alias, short in METRIC_ALIASES.items() if short == name)]


def aligned_metrics(metrics: dict[str, float]) -> dict[str, float]:
    """``metrics`` under aligned names; a name logged as such wins over its alias."""
    out: dict[str, float] = {}
    for key, value in metrics.items():
        if key in METRIC_ALIASES:
            out.setdefault(METRIC_ALIASES[key], value)
        else:
            out[key] = value
    return out


def is_training_data(io: RunIO) -> bool:
    name = (io.name or "").lower()
    return io.direction == "input" and not any(word in name for word in _EVALUATION_DATA_WORDS)


def artifact_name(artifact: ArtifactVersion, io_name: str | None = None) -> str:
    """What a person calls an artifact: a file's name, a table's last segment, an in-memory value's role."""
    if artifact.uri.startswith("value:"):
        return _role(io_name or "value", artifact.kind)
    last = artifact.uri.rstrip("/").rsplit("/", 1)[-1] or artifact.uri
    if len(last) >= 32 and all(c in "0123456789abcdef" for c in last):
        # A file of the artifact store is named by its hash: its role says more.
        return _role(io_name or "file", artifact.kind)
    return last


def _role(name: str, kind: str) -> str:
    return name if name == kind else f"{name} ({kind})"


def version_label(artifact: ArtifactVersion, io_name: str | None = None) -> str:
    """``name@version``: the artifact's name and the first hex digits of its content hash."""
    from modeldb_core.presentation import short_hash

    digest = short_hash(artifact.content_hash)
    return f"{artifact_name(artifact, io_name)}@{digest}"


@dataclass
class TrainedModel:
    """One model: the artifact version, the run that trained it and the runs that evaluated it."""

    artifact: ArtifactVersion
    training: "RunRecord"
    # The name the training run gave the output (``model``, ``return``).
    output_name: str | None = None
    evaluations: list["RunRecord"] = field(default_factory=list)
    training_data: list[RunIO] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    # For each metric, the id of the run whose value it is.
    metric_runs: dict[str, str] = field(default_factory=dict)
    notes: list[Note] = field(default_factory=list)

    @property
    def params(self) -> dict[str, Any]:
        return self.training.params

    @property
    def model_type(self) -> str:
        """The estimator class scikit-learn autolog recorded, a ``model``/``model_type`` param, or the task's name."""
        tags, params = self.training.tags, self.training.params
        if tags.get(_TAG_MODEL_TYPE):
            steps = params.get("steps")
            if tags[_TAG_MODEL_TYPE] == "Pipeline" and isinstance(steps, list) and steps \
                    and isinstance(steps[-1], list) and isinstance(steps[-1][-1], str):
                return f"Pipeline({steps[-1][-1].rsplit('.', 1)[-1]})"  # the final estimator says more
            return tags[_TAG_MODEL_TYPE]
        for key in ("model_type", "model", "estimator", "algorithm"):
            if isinstance(params.get(key), str):
                return params[key]
        return self.training.name

    @property
    def label(self) -> str:
        return version_label(self.artifact, self.output_name)

    @property
    def file(self) -> str:
        return self.artifact.uri

    @property
    def trained_at(self) -> float:
        run = self.training.run
        return run.ended_at or run.started_at

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.label,
            "model_type": self.model_type,
            "training_run": self.training.id,
            "training_run_name": self.training.name,
            "evaluation_runs": [e.id for e in self.evaluations],
            "training_data": [version_label(io.artifact, io.name) for io in self.training_data],
            "params": self.params,
            "metrics": self.metrics,
            "metric_runs": self.metric_runs,
            "notes": [n.text for n in self.notes],
            "model_file": self.file,
            "trained_at": self.trained_at,
            "status": self.training.status,
        }


@dataclass(frozen=True)
class ModelsQuery:
    """What a page of the models table asks the store for (``MetadataStore.models_page``).

    ``filter`` is a parsed filter read against a model (``params.*``/``tags.*``/run fields:
    its training run's; ``metrics.*``: its aligned metrics); ``order`` sort keys (metric keys
    aligned; none: ``main`` best first, else newest trained first); ``after``: the sort key
    of the last model of the page before (keyset), else ``offset`` models are skipped."""

    project: str
    filter: Any = None
    search: str | None = None
    order: tuple = ()
    main: str | None = None
    goal: str = "min"
    group: Any = None
    limit: int | None = 100
    offset: int = 0
    after: tuple | None = None
    aliases: dict[str, str] = field(default_factory=lambda: dict(METRIC_ALIASES))


@dataclass
class ModelRow:
    """A model of a page: its artifact version, its training run's id, the name the run gave
    the output, and its sort key (what the cursor of the next page starts after)."""

    artifact: ArtifactVersion
    training_run: str
    output_name: str | None = None
    key: tuple = ()


@dataclass
class ParamStats:
    """How one training param is spread over a project's models: on how many, how many distinct
    values, how many of them text and how many of those look like file paths."""

    key: str
    models: int
    values: int
    texts: int = 0
    paths: int = 0


@dataclass
class ModelGroup:
    value: Any
    models: int
    scored: int = 0  # models with a main metric
    minimum: float | None = None
    maximum: float | None = None
    mean: float | None = None
    best: ModelRow | None = None


@dataclass
class ModelsOverview:
    """What the table's columns need of every model of a project (``MetadataStore.models_overview``)."""

    total: int = 0
    params: list[ParamStats] = field(default_factory=list)
    metrics: dict[str, int] = field(default_factory=dict)  # aligned name -> models that have it
    project_metrics: dict[str, Any] = field(default_factory=dict)  # raw name -> MetricRange of the runs


@dataclass
class ModelsPage:
    matched: int
    rows: list[ModelRow] = field(default_factory=list)
    more: bool = False
    model_inputs: set[int] = field(default_factory=set)  # versions the page's training runs read that are models
    groups: list[ModelGroup] | None = None


def _records(store: "MetadataStore", run_ids: Iterable[str]) -> dict[str, "RunRecord"]:
    from modeldb_core.query.fields import ATTR, Field
    from modeldb_core.query.language import In
    from modeldb_core.query.records import RunQuery

    ids = sorted(set(run_ids))
    out: dict[str, RunRecord] = {}
    for start in range(0, len(ids), 500):
        chunk = tuple(ids[start:start + 500])
        query = RunQuery(filter=In(Field(ATTR, "id"), chunk))
        out.update({str(r.id): r for r in store.search_runs(query, limit=None)})
    return out


def trained_models(store: "MetadataStore", project: str) -> list["TrainedModel"]:
    """Every model the runs of ``project`` produced, oldest first (the rule of this module)."""
    from modeldb_core.query.fields import ATTR, Field
    from modeldb_core.query.language import SortKey

    page = store.models_page(ModelsQuery(project=project, order=(SortKey(Field(ATTR, "started")),), limit=None))
    return assemble(store, page.rows, page.model_inputs)


def assemble(store: "MetadataStore", rows: Sequence[ModelRow], model_inputs: set[int]) -> list["TrainedModel"]:
    """The ``TrainedModel`` of each row of a page: its training run, the runs that evaluated it
    (in any project), its training data (what its training run read, ``model_inputs`` and
    held-out data excepted), its metrics by the rule and the notes of those runs; a few
    statements for the whole page, none per model."""
    if not rows:
        return []
    readers: dict[int | None, list[str]] = {}
    for use in store.artifact_uses(sorted({row.artifact.id for row in rows})):
        if use["direction"] == "input":
            readers.setdefault(use["artifact_version_id"], []).append(str(use["run_id"]))
    ids = {row.training_run for row in rows} | {r for runs in readers.values() for r in runs}
    records = _records(store, ids)
    found = store.inputs_and_notes(sorted(ids))
    models: list[TrainedModel] = []
    for row in rows:
        evaluators = sorted((records[r] for r in dict.fromkeys(readers.get(row.artifact.id, []))
                             if r != row.training_run and r in records), key=lambda r: r.run.started_at)
        inputs = found.get(row.training_run, ([], []))[0]
        model = TrainedModel(artifact=row.artifact, training=records[row.training_run],
                             output_name=row.output_name, evaluations=evaluators,
                             training_data=[i for i in inputs if is_training_data(i)
                                            and i.artifact.id not in model_inputs])
        for record in [model.training, *evaluators]:
            for key, value in aligned_metrics(record.metrics).items():
                model.metrics[key] = value
                model.metric_runs[key] = str(record.id)
            model.notes += found.get(str(record.id), ([], []))[1]
        models.append(model)
    return models


def trainer_ids(store: "MetadataStore", project: str) -> dict[str, str]:
    """For each run of ``project`` that evaluated a model: the id of the run that trained that
    model (in this project or another), by the rule in SQL (``MetadataStore.model_trainers``).

    A run that evaluated several models has no single training run and is left out.
    """
    return {reader: next(iter(trainers)) for reader, trainers in store.model_trainers(project).items()
            if len(trainers) == 1}


def training_runs(store: "MetadataStore", project: str,
                  among: Iterable[str] | None = None) -> dict[str, "RunRecord"]:
    """``trainer_ids`` with the training runs' records (params, metrics, tags), for the
    evaluation runs ``among`` (default: all of them)."""
    ids = trainer_ids(store, project)
    if among is not None:
        ids = {str(r): ids[str(r)] for r in among if str(r) in ids}
    records = _records(store, ids.values())
    return {reader: records[trainer] for reader, trainer in ids.items() if trainer in records}


def varying_params(stats: Sequence[ParamStats]) -> list[str]:
    """The training params set on two models or more with different values, most often set first.

    A param only some models have (the scikit-learn ones next to hand-written
    models) varies when it differs among those that have it; file paths are
    left out (they differ with every model without describing it), and so are the settings of
    how a fit runs (``EXECUTION_PARAMS``: verbose, n_jobs...).
    """
    varying = [s for s in stats if s.models > 1 and s.values > 1
               and s.key.rsplit("__", 1)[-1] not in EXECUTION_PARAMS
               and not (s.texts and s.texts == s.paths)]  # every text value a path: a file path
    return [s.key for s in sorted(varying, key=lambda s: (-s.models, s.key))]


# Settings of how a fit runs, never of the model it makes (scikit-learn's spellings): a
# Pipeline's verbose=False next to a GridSearchCV's verbose=0 is not a hyperparameter that varies.
EXECUTION_PARAMS = frozenset({"verbose", "n_jobs", "pre_dispatch", "memory", "copy", "copy_X",
                              "verbose_feature_names_out"})


def metric_names(counts: dict[str, int], main: str | None = None) -> list[str]:
    """The metrics of the models (aligned name -> how many models have it), ``main`` first, then
    by how many models have them."""
    rest = sorted((k for k in counts if k != main), key=lambda k: (-counts[k], k))
    return ([main] if main in counts else []) + rest


__all__ = ["METRIC_ALIASES", "ModelGroup", "ModelRow", "ModelsOverview", "ModelsPage", "ModelsQuery", "ParamStats",
           "TrainedModel", "aligned_metrics", "assemble", "artifact_name",
           "canonical_metric", "metric_names", "metric_spellings", "trained_models", "trainer_ids",
           "training_runs", "varying_params", "version_label"]
