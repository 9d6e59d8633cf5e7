"""The tables of the SQL store (SQLAlchemy Core).

These are storage rows only; the domain model is ``modeldb_core.model``.
Times are float POSIX seconds. Metric values that are NaN are stored as NULL
(SQLite cannot keep a NaN), with ``is_nan`` telling them apart from a missing
value; +/-inf are stored as they are on both databases.
"""
from __future__ import annotations

from sqlalchemy import (
    BigInteger, Boolean, Column, Float, ForeignKey, Index, Integer, MetaData,
    String, Table, Text, UniqueConstraint, text,
)

# Integer primary keys that are 64-bit on PostgreSQL and INTEGER (rowid) on SQLite.
Id = BigInteger().with_variant(Integer(), "sqlite")
Double = Float(precision=53).with_variant(Float(), "sqlite")

metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

projects = Table(
    "projects", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(500), nullable=False, unique=True),
    Column("description", Text),
    Column("created_at", Double, nullable=False),
)

pipelines = Table(
    "pipelines", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("project_id", Id, ForeignKey("projects.id"), nullable=False),
    Column("name", String(500), nullable=False),
    Column("orchestrator", String(50), nullable=False),
    Column("structure_hash", String(80), nullable=False),
    Column("structure", Text, nullable=False),
    Column("created_at", Double, nullable=False),
    UniqueConstraint("project_id", "name", "orchestrator", "structure_hash"),
)

pipeline_runs = Table(
    "pipeline_runs", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("pipeline_id", Id, ForeignKey("pipelines.id"), nullable=False),
    # The key every process gives this pipeline run (events.pipeline_run_key).
    Column("uuid", String(36)),
    Column("external_id", String(500), nullable=False),
    Column("status", String(20), nullable=False),
    Column("started_at", Double, nullable=False),
    Column("ended_at", Double),
    UniqueConstraint("pipeline_id", "external_id"),
    Index("uq_pipeline_runs_uuid", "uuid", unique=True),
)

code_versions = Table(
    "code_versions", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("hash", String(80), nullable=False, unique=True),
    Column("git_commit", String(64)),
    Column("git_branch", String(250)),
    Column("git_dirty", Boolean),
    Column("git_diff_hash", String(80)),
    Column("repo_path", Text),
    Column("source_file", Text),
    Column("function", String(500)),
    Column("source_hash", String(80)),
)

environments = Table(
    "environments", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("hash", String(80), nullable=False, unique=True),
    Column("python_version", String(50), nullable=False),
    Column("platform", String(250), nullable=False),
    Column("packages", Text, nullable=False),
)

runs = Table(
    "runs", metadata,
    # ``id`` stays inside the schema; ``uuid`` (UUIDv7, made by the tracking client
    # when the run starts) is the run's public id.
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("uuid", String(36)),
    Column("project_id", Id, ForeignKey("projects.id"), nullable=False),
    Column("pipeline_run_id", Id, ForeignKey("pipeline_runs.id")),
    Column("parent_run_id", Id, ForeignKey("runs.id")),
    # The parent's public id, kept beside its key so reads show it without a join.
    Column("parent_uuid", String(36)),
    Column("name", String(500), nullable=False),
    Column("phase", String(40)),
    Column("status", String(20), nullable=False),
    Column("orchestrator", String(50)),
    Column("external_id", String(500)),
    Column("try_number", Integer),
    Column("user", String(250)),
    Column("host", String(250)),
    Column("pid", Integer),
    Column("heartbeat_at", Double),
    Column("started_at", Double, nullable=False),
    Column("ended_at", Double),
    Column("code_version_id", Id, ForeignKey("code_versions.id")),
    Column("environment_id", Id, ForeignKey("environments.id")),
    Column("error_type", String(250)),
    Column("error_message", Text),
    Column("error_traceback", Text),
    # The sequence number of the event that ended the run: a later end wins, a late
    # or repeated one changes nothing (NULL: ended by the reaper or an import).
    Column("end_seq", BigInteger),
    Index("uq_runs_uuid", "uuid", unique=True),
    Index(None, "project_id", "started_at"),
    Index(None, "status"),
    # Reaping looks for the few running runs among millions: a partial index
    # keeps that cheap whatever the planner's statistics say about "status".
    Index("ix_runs_running", "id", sqlite_where=text("status = 'running'"),
          postgresql_where=text("status = 'running'")),
    Index(None, "started_at"),
    Index(None, "pipeline_run_id"),
    Index(None, "parent_run_id"),
    Index(None, "external_id"),
)

params = Table(
    "params", metadata,
    Column("run_id", Id, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    # value_json is the canonical JSON; value_text what is shown and compared as
    # text; value_num the number, when it is one, for numeric comparison.
    Column("value_json", Text, nullable=False),
    Column("value_text", Text, nullable=False),
    Column("value_num", Double),
    Index(None, "key", "value_num"),
    # A number is found by value_num; its text (its JSON) is not indexed again (revision 0013).
    Index("ix_params_key_value_text", "key", "value_text", sqlite_where=text("value_num IS NULL"),
          postgresql_where=text("value_num IS NULL")),
)
# Revision 0002 adds, on PostgreSQL only, multi-column statistics on params
# (key, value_text), (key, value_num) and tags (key, value) for the query planner.
# Revision 0012 drops, on PostgreSQL only, the foreign keys of params, metrics,
# latest_metrics and tags to runs (their triggers were a third of the server's CPU on
# a batch of runs); the event path writes a value only under its run's key.

metrics = Table(
    "metrics", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("run_id", Id, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Double),
    Column("is_nan", Boolean, nullable=False, default=False),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", Double, nullable=False),
    # One point is one row however often its event is delivered.
    Index("uq_metrics_point", "run_id", "key", "step", "timestamp", unique=True),
)

# The last value of every metric of every run: what filters and sorts use.
latest_metrics = Table(
    "latest_metrics", metadata,
    Column("run_id", Id, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Double),
    Column("is_nan", Boolean, nullable=False, default=False),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", Double, nullable=False),
    Index(None, "key", "value"),
)

tags = Table(
    "tags", metadata,
    Column("run_id", Id, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
    # The sequence number of the event that set the value: the highest wins.
    Column("seq", BigInteger),
    Index(None, "key", "value"),
)

notes = Table(
    "notes", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("run_id", Id, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("text", Text, nullable=False),
    Column("created_at", Double, nullable=False),
    # The sequence number of the event that added it: one note per event.
    Column("seq", BigInteger),
    Index(None, "run_id"),
    Index("uq_notes_run_seq", "run_id", "seq", unique=True),
)

artifacts = Table(
    "artifacts", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("uri", String(2000), nullable=False, unique=True),
    Column("kind", String(100), nullable=False),
    Column("created_at", Double, nullable=False),
)

artifact_versions = Table(
    "artifact_versions", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("artifact_id", Id, ForeignKey("artifacts.id"), nullable=False),
    Column("content_hash", String(100), nullable=False),
    Column("size", BigInteger),
    Column("metadata", Text, nullable=False),
    Column("fingerprint_method", String(100), nullable=False),
    Column("created_at", Double, nullable=False),
    UniqueConstraint("artifact_id", "content_hash"),
    Index(None, "content_hash"),
)

run_io = Table(
    "run_io", metadata,
    Column("run_id", Id, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("artifact_version_id", Id, ForeignKey("artifact_versions.id"), primary_key=True),
    Column("direction", String(10), primary_key=True),
    Column("name", String(500)),
    Column("created_at", Double, nullable=False),
    Index(None, "artifact_version_id", "direction"),
)

# What wrote the schema: the ModelDB version that created or last upgraded it.
# Access tokens of `modeldb server`: only a hash of the secret is kept (modeldb_core/tokens.py).
api_tokens = Table(
    "api_tokens", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("token_id", String(32), nullable=False, unique=True),
    Column("name", String(500), nullable=False),
    Column("scope", String(20), nullable=False),
    Column("secret_hash", String(100), nullable=False),
    Column("created_at", Double, nullable=False),
    Column("expires_at", Double),
    Column("revoked_at", Double),
)

store_info = Table(
    "store_info", metadata,
    Column("key", String(100), primary_key=True),
    Column("value", Text, nullable=False),
)

# Events that arrived before what they refer to (a run's events before its start,
# a run's start before its parent's or its pipeline run's): applied when it arrives.
parked_events = Table(
    "parked_events", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("waits_for", String(36), nullable=False),
    Column("event", Text, nullable=False),
    Column("definitions", Text, nullable=False),
    Column("created_at", Double, nullable=False),
    Index(None, "waits_for"),
)

# -- the model registry (revision 0005; modeldb_core/registry) ---------------------------
# Model names (NFC, trimmed) are unique per project (revision 0011): ``models:/name/3`` names
# one version while one project holds the name, ``models:/project/name/3`` always. The name
# comes first in the unique index, so it serves lookups by the name alone too.
registered_models = Table(
    "registered_models", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(250), nullable=False),
    Column("project_id", Id, ForeignKey("projects.id"), nullable=False),
    Column("description", Text),
    Column("owner", String(250)),
    Column("tags", Text, nullable=False),
    # Model-card fields (intended use, limitations, training data, ethics, risk tier) as JSON.
    Column("card", Text, nullable=False),
    Column("created_at", Double, nullable=False),
    UniqueConstraint("name", "project_id"),
)

model_versions = Table(
    "model_versions", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("model_id", Id, ForeignKey("registered_models.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("run_id", Id, ForeignKey("runs.id")),
    Column("artifact_version_id", Id, ForeignKey("artifact_versions.id"), nullable=False),
    Column("description", Text),
    Column("created_by", String(250)),
    Column("created_at", Double, nullable=False),
    UniqueConstraint("model_id", "version"),
    # Registering one content twice under a model gives back its version.
    UniqueConstraint("model_id", "artifact_version_id"),
)

# The data versions the source run read, kept with the version (its identity).
model_version_inputs = Table(
    "model_version_inputs", metadata,
    Column("model_version_id", Id, ForeignKey("model_versions.id"), primary_key=True),
    Column("artifact_version_id", Id, ForeignKey("artifact_versions.id"), primary_key=True),
)

# Where each alias points now (one row per model and alias): what resolving reads.
model_aliases = Table(
    "model_aliases", metadata,
    Column("model_id", Id, ForeignKey("registered_models.id"), primary_key=True),
    Column("alias", String(250), primary_key=True),
    Column("version_id", Id, ForeignKey("model_versions.id"), nullable=False),
)

# Every move of an alias, never updated: what ``--at`` reads.
alias_moves = Table(
    "alias_moves", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("model_id", Id, ForeignKey("registered_models.id"), nullable=False),
    Column("alias", String(250), nullable=False),
    Column("from_version_id", Id, ForeignKey("model_versions.id")),
    Column("to_version_id", Id, ForeignKey("model_versions.id")),
    Column("actor", String(250), nullable=False),
    Column("at", Double, nullable=False),
    Column("reason", Text),
    Column("forced", Boolean, nullable=False, default=False),
    # The promotion's evidence: the values compared, the approvals, the holder replaced.
    Column("evidence", Text, nullable=False),
    Index(None, "model_id", "alias", "at"),
)

promotion_policies = Table(
    "promotion_policies", metadata,
    Column("model_id", Id, ForeignKey("registered_models.id"), primary_key=True),
    Column("alias", String(250), primary_key=True),
    Column("rules", Text, nullable=False),
    Column("updated_at", Double, nullable=False),
)

approvals = Table(
    "approvals", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("version_id", Id, ForeignKey("model_versions.id"), nullable=False),
    Column("alias", String(250), nullable=False),
    Column("actor", String(250), nullable=False),
    Column("at", Double, nullable=False),
    Column("reason", Text),
    UniqueConstraint("version_id", "alias", "actor"),
)

# Append-only and hash-chained: each row's hash covers its content and the previous hash.
audit_events = Table(
    "audit_events", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", Double, nullable=False),
    Column("actor", String(250), nullable=False),
    Column("action", String(100), nullable=False),
    Column("subject", String(600), nullable=False),
    Column("before", Text),
    Column("after", Text),
    Column("reason", Text),
    Column("prev_hash", String(64), nullable=False, unique=True),
    Column("hash", String(64), nullable=False, unique=True),
    # The model the event is about (revision 0011): what lists a model's events, whatever
    # project its subject names (events before 0011 name models without their project).
    # Not part of the hash: the subject, which is, names the model too.
    Column("model_id", Id, ForeignKey("registered_models.id")),
    Index(None, "subject"),
    Index(None, "model_id", "id"),
)

# Where a model version is served: one row per deployment, from ``since`` to ``until``
# (None: it serves now). Every change of it is in the audit log; what served in an
# environment at a time T is the rows with since <= T < until.
deployments = Table(
    "deployments", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    # Client-made (UUIDv7): a deployment recorded through the tracking runtime, delivered twice, is one row.
    Column("uuid", String(36), nullable=False, unique=True),
    Column("model_id", Id, ForeignKey("registered_models.id"), nullable=False),
    Column("version_id", Id, ForeignKey("model_versions.id"), nullable=False),
    Column("environment", String(250), nullable=False),
    Column("endpoint", Text),
    Column("state", String(20), nullable=False),
    Column("traffic", Double),  # NULL: all the traffic; a share in (0, 1]: a canary
    Column("since", Double, nullable=False),
    Column("until", Double),
    Column("actor", String(250), nullable=False),
    Column("reason", Text),
    Column("requested", String(600), nullable=False),  # the reference as asked (models:/pricing@production)
    Column("run_id", Id, ForeignKey("runs.id")),  # the run that recorded it
    Column("state_reason", Text),
    Column("state_changed_at", Double, nullable=False),
    Index(None, "environment", "since"),
    Index(None, "model_id", "environment", "until"),
)


# -- reproduction (revision 0010; modeldb_core/reproduction) ---------------------------------
# What a run needs to be executed again, one JSON part per kind of capture (the entry
# point, the randomness it used, a scikit-learn fit, ...); the highest ``seq`` wins.
run_recipes = Table(
    "run_recipes", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("run_id", Id, ForeignKey("runs.id"), nullable=False),
    Column("part", String(50), nullable=False),
    Column("data", Text, nullable=False),
    Column("seq", BigInteger, nullable=False),
    UniqueConstraint("run_id", "part"),
)

# A run that re-executed another (``run_id`` reproduces ``original_run_id``) and the verdict.
reproductions = Table(
    "reproductions", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("run_id", Id, ForeignKey("runs.id"), nullable=False, unique=True),
    Column("original_run_id", Id, ForeignKey("runs.id"), nullable=False),
    Column("verdict", String(40)),
    Column("details", Text),
    Column("created_at", Double, nullable=False),
    Index(None, "original_run_id"),
)
