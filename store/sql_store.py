"""The SQLAlchemy implementation of ``MetadataStore`` for SQLite and PostgreSQL."""
from __future__ import annotations

import contextlib
import json
import math
import random
import threading
import time
from typing import Any, Callable, Iterator, Sequence

from sqlalchemy import and_, bindparam, case, func, literal, or_, select, text, union_all, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError

from modeldb_core import collector
from modeldb_core.errors import (
    NotFoundError, ParamConflictError, StoreBusyError, StoreError, StoreUnavailableError,
)
from modeldb_core.model import (
    ArtifactVersion, CodeVersion, Environment, LineageEdge, LineageGraph, LineageNode,
    Metric, MetricRange, NewRun, Note, Pipeline, PipelineRun, Project, ProjectSummary, Run,
    RunDetail, RunIO, RunPoint, RunStatus,
)

from . import migrate
from . import schema as t
from .engine import WRITE, make_engine
from .interface import MetadataStore
from .deployments import DeploymentStore
from .registry import RegistryStore
from .reproduction import ReproductionStore
from .events import driver_call, keys_by
from .rows import encode_json

# Where a write transaction keeps the ids it made until it commits (``_cached_id``).
_FRESH_IDS = "modeldb.fresh_ids"

_RETRYABLE = ("database is locked", "database table is locked", "deadlock detected",
              "could not serialize", "busy")


def _is_retryable(exc: BaseException) -> bool:
    message = str(exc).lower()
    return any(word in message for word in _RETRYABLE)


# SQLite reports a damaged or foreign schema as an OperationalError too: the store is
# there, it refuses this statement (PostgreSQL says so with a ProgrammingError).
_SCHEMA_PROBLEMS = ("no such table", "no such column", "has no column named")
# The longest the projects' aggregates are kept while their marker stays the same (see
# ``project_summaries``).
SUMMARY_MAX_AGE = 30.0


def _is_schema_problem(exc: BaseException) -> bool:
    message = str(exc).lower()
    return any(words in message for words in _SCHEMA_PROBLEMS)


def _metric_value(value: float | None, is_nan: bool) -> float:
    return math.nan if is_nan or value is None else value


class SqlStore(DeploymentStore, RegistryStore, ReproductionStore, MetadataStore):
    def __init__(self, uri: str, engine: Engine | None = None, check_schema: bool = True):
        from modeldb_core.redaction import redact_uri

        self.uri = redact_uri(uri)  # what is shown; the engine keeps the real one
        self.engine = engine or make_engine(uri)
        self.dialect = self.engine.dialect.name
        # Ids of rows never deleted (projects, environments, code versions), by (kind, key):
        # only ids of committed rows, so another transaction may rely on them.
        self._ids: dict[tuple[str, str], int] = {}
        self._summaries: tuple[tuple, float, list[ProjectSummary]] | None = None
        self._summarising = threading.Lock()
        self._prepare_statements()
        if check_schema:
            with self._translated():
                migrate.ensure_schema(self.engine)

    def _prepare_statements(self) -> None:
        """Build the hot-path statements once: constructing them costs more than running them."""
        # What changes when the projects' aggregates may: a new run, metric point, pipeline or
        # project (ids only grow), or a run that stops running. Each an index lookup.
        self._summary_marker = select(*(select(func.max(table.c.id)).scalar_subquery() for table in (
            t.runs, t.metrics, t.pipelines, t.projects)), select(func.count()).select_from(t.runs).where(
            t.runs.c.status == RunStatus.RUNNING.value).scalar_subquery())
        latest = self._insert(t.latest_metrics)
        newer = or_(latest.excluded.step > t.latest_metrics.c.step,
                    and_(latest.excluded.step == t.latest_metrics.c.step,
                         latest.excluded.timestamp >= t.latest_metrics.c.timestamp))
        self._upsert_latest = latest.on_conflict_do_update(
            index_elements=["run_id", "key"],
            set_={c: latest.excluded[c] for c in ("value", "is_nan", "step", "timestamp")},
            where=newer)
        self._insert_io = self._insert(t.run_io).on_conflict_do_nothing()
        # The few running runs among millions, through their partial index. SQLite's
        # planner prefers the plain status index (a scan of every run once statistics
        # exist), so it is named; PostgreSQL picks it by itself.
        if self.dialect == "sqlite":
            self._running_runs = text("SELECT id, host, pid, heartbeat_at FROM runs "
                                      "INDEXED BY ix_runs_running WHERE status = 'running'")
        else:
            self._running_runs = select(t.runs.c.id, t.runs.c.host, t.runs.c.pid,
                                        t.runs.c.heartbeat_at).where(text("runs.status = 'running'"))
        # Lineage edges: one artifact and one version lookup per edge (Luigi writes many).
        self._select_artifact = select(t.artifacts.c.id).where(t.artifacts.c.uri == bindparam("uri"))
        self._insert_artifact = self._insert(t.artifacts).on_conflict_do_nothing().returning(t.artifacts.c.id)
        self._select_version = select(t.artifact_versions.c.id).where(
            t.artifact_versions.c.artifact_id == bindparam("artifact"),
            t.artifact_versions.c.content_hash == bindparam("hash"))
        self._insert_version = self._insert(t.artifact_versions).on_conflict_do_nothing().returning(
            t.artifact_versions.c.id)
        from .events import Statements

        self._event_statements = Statements(self)

    # -- the one place database errors become ModelDB errors -----------------
    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except (StoreError, NotFoundError, ParamConflictError):
            raise
        except OperationalError as exc:
            if _is_retryable(exc):
                raise
            if _is_schema_problem(exc):
                raise StoreError(f"the store refused a statement: {exc.orig}") from exc
            raise StoreUnavailableError(f"cannot use the store at {self._shown_uri()}: {exc.orig}") from exc
        except IntegrityError as exc:
            raise StoreError(f"the store refused a write: {exc.orig}") from exc
        except (DBAPIError, SQLAlchemyError) as exc:
            raise StoreError(f"store error: {exc}") from exc

    def _shown_uri(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def _write(self, work, attempts: int = 8, opening: str | None = None):
        """Run ``work(conn)`` in one write transaction, retrying on lock contention.

        ``opening`` (PostgreSQL): a statement without parameters that the transaction starts
        with, sent with its ``BEGIN`` in one round trip (psycopg sends its own ``BEGIN`` alone):
        the connection is in autocommit mode and the transaction is begun by hand, committed
        or rolled back by the driver as any other (it ends any transaction it finds open).
        """
        delay = 0.02
        for attempt in range(attempts):
            try:
                with self._translated():
                    with self.engine.connect().execution_options(**WRITE) as conn:
                        if opening is not None:
                            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                        conn.info[_FRESH_IDS] = {}
                        with conn.begin():
                            if opening is not None:
                                conn.exec_driver_sql(f"BEGIN; {opening}")
                            done = work(conn)
                        self._ids.update(conn.info.pop(_FRESH_IDS))
                        return done
            except OperationalError as exc:
                if attempt == attempts - 1 or not _is_retryable(exc):
                    raise StoreError(f"the store stayed busy: {exc.orig}") from exc
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 1.0)
        raise AssertionError("unreachable")

    def _cached_id(self, conn: Connection, kind: str, key: str, ensure: Callable[[], int]) -> int:
        """The id of a row that is never deleted, ``ensure()``-d on first use. An id made by
        this transaction is known to the store only once the transaction commits (``_write``):
        before that, another transaction (another thread) must not use it."""
        found = self._ids.get((kind, key))
        if found is None:
            fresh = conn.info.setdefault(_FRESH_IDS, {})
            found = fresh.get((kind, key))
            if found is None:
                found = fresh[(kind, key)] = ensure()
        return found

    @contextlib.contextmanager
    def _read(self, short: bool = False) -> Iterator[Connection]:
        """A connection to read on. ``short``: a read of one indexed statement (or a few, each
        consistent on its own): on PostgreSQL it runs outside a transaction, saving the round
        trips of BEGIN and ROLLBACK (half of a one-statement read's), unless a deadline bounds
        reads (its ``SET LOCAL`` needs a transaction: ``deadline.py``)."""
        with self._translated():
            with self.engine.connect() as conn:
                if short and self.dialect == "postgresql":
                    from . import deadline

                    if not deadline.bounds(self.engine):
                        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                yield conn

    def _insert(self, table):
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        return insert(table)

    def _ensure(self, conn: Connection, table, values: dict[str, Any], keys: dict[str, Any]) -> int:
        """Insert a row unless one with ``keys`` exists; return its id either way."""
        where = and_(*[table.c[k] == v for k, v in keys.items()])
        found = conn.execute(select(table.c.id).where(where)).scalar()
        if found is not None:
            return found
        conn.execute(self._insert(table).values(**values, **keys).on_conflict_do_nothing())
        return conn.execute(select(table.c.id).where(where)).scalar_one()

    # -- writes -------------------------------------------------------------
    def _project_id(self, conn: Connection, name: str) -> int:
        return self._cached_id(conn, "project", name, lambda: self._ensure(
            conn, t.projects, {"created_at": time.time()}, {"name": name}))

    def create_runs(self, new_runs: Sequence[NewRun]) -> list[str]:
        return self._write(lambda conn: self._insert_new_runs(conn, new_runs))

    def _insert_new_runs(self, conn: Connection, new_runs: Sequence[NewRun]) -> list[str]:
        """Runs with their params, metrics, tags (driver-level, store/bulk.py) and lineage edges;
        returns their public ids."""
        from modeldb_core.events import uuid7

        from . import bulk

        for new in new_runs:
            if new.uuid is None:
                new.uuid = uuid7()
        project_ids: dict[str, int] = {}
        for new in new_runs:
            if new.project not in project_ids:
                project_ids[new.project] = self._project_id(conn, new.project)
        ids = bulk.insert_runs(conn, new_runs, project_ids)
        edges = [(run_id, direction, name, version)
                 for run_id, new in zip(ids, new_runs)
                 for direction, items in (("input", new.inputs), ("output", new.outputs))
                 for name, version in items]
        if edges:
            self._write_edges(conn, edges)
        return [new.uuid for new in new_runs]

    def apply_events(self, events: Sequence[Any], definitions: dict[str, Any] | None = None) -> None:
        """The one write entry point of tracking: a batch of events in one transaction (store/events.py).

        One attempt: the tracking runtime's writer backs off and retries itself, so
        a locked or unreachable store raises ``StoreUnavailableError`` at once. An empty
        batch applies what waited for something that has arrived since.
        """
        from . import events as applied

        try:
            with collector.paused():
                self._write(lambda conn: applied.apply(self, conn, events, definitions or {}), attempts=1)
        except StoreError as exc:
            if _is_retryable(exc):
                raise StoreBusyError(str(exc)) from exc
            raise

    def _write_edges(self, conn: Connection, edges: Sequence[tuple[int, str, str | None, ArtifactVersion]]) -> None:
        """Lineage edges ``(run id, direction, name, version)``, with their artifact and version rows."""
        now = time.time()
        if len(edges) > 3:
            self._write_edges_setwise(conn, edges, now)
            return
        # What a run writes is mostly new, what it reads mostly known: try the likely
        # statement first (one round trip either way when the guess is right).
        for run_id, direction, name, version in edges:
            new_first = direction == "output"
            artifact_id = self._row_id(
                conn, self._select_artifact, {"uri": version.uri}, self._insert_artifact,
                {"uri": version.uri, "kind": version.kind, "created_at": now}, new_first)
            version_id = self._row_id(
                conn, self._select_version, {"artifact": artifact_id, "hash": version.content_hash},
                self._insert_version, {
                    "artifact_id": artifact_id, "content_hash": version.content_hash,
                    "size": version.size, "metadata": encode_json(version.metadata),
                    "fingerprint_method": version.fingerprint_method, "created_at": now}, new_first)
            conn.execute(self._insert_io, {"run_id": run_id, "artifact_version_id": version_id,
                                           "direction": direction, "name": name, "created_at": now})

    def _write_edges_setwise(self, conn: Connection,
                             edges: Sequence[tuple[int, str, str | None, ArtifactVersion]], now: float) -> None:
        """Many edges (a task reading a hundred files, a batch of runs): rows looked up set-wise,
        the missing ones inserted in one statement (a concurrent writer's rows are kept), edges
        in one more."""
        versions = {e[3].uri: e[3] for e in edges}

        artifacts = keys_by(conn, t.artifacts, "uri", versions)
        missing = [uri for uri in versions if uri not in artifacts]
        if missing:
            conn.execute(self._insert(t.artifacts).on_conflict_do_nothing(),
                         [{"uri": uri, "kind": versions[uri].kind, "created_at": now} for uri in missing])
            artifacts.update(keys_by(conn, t.artifacts, "uri", missing))

        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"

        def version_ids(pairs: Sequence[tuple[int, str]]) -> dict[tuple[int, str], int]:
            # The driver's own statement, the pairs joined to the unique index: SQLite answers
            # a row-value IN list (SQLAlchemy's tuple IN) by scanning the whole table.
            found: dict[tuple[int, str], int] = {}
            for chunk in _chunks(list(pairs), 400):
                rows_sql = ", ".join([f"(CAST({mark} AS BIGINT), {mark})"] * len(chunk))
                sql = (f"WITH wanted (artifact_id, content_hash) AS (VALUES {rows_sql}) "
                       f"SELECT v.artifact_id, v.content_hash, v.id FROM wanted "
                       f"JOIN {t.artifact_versions.name} v ON v.artifact_id = wanted.artifact_id "
                       f"AND v.content_hash = wanted.content_hash")
                given = [value for pair in chunk for value in pair]
                rows = driver_call(conn, sql, lambda cursor: cursor.execute(sql, given).fetchall())
                found.update(((artifact_id, content_hash), key) for artifact_id, content_hash, key in rows)
            return found

        wanted = {(artifacts[v.uri], v.content_hash): v for *_, v in edges}
        known = version_ids(wanted)
        absent = [key for key in wanted if key not in known]
        if absent:
            conn.execute(self._insert(t.artifact_versions).on_conflict_do_nothing(), [
                {"artifact_id": key[0], "content_hash": key[1], "size": wanted[key].size,
                 "metadata": encode_json(wanted[key].metadata),
                 "fingerprint_method": wanted[key].fingerprint_method, "created_at": now}
                for key in absent])
            known.update(version_ids(absent))
        conn.execute(self._insert_io, [
            {"run_id": run_id, "artifact_version_id": known[(artifacts[v.uri], v.content_hash)],
             "direction": direction, "name": name, "created_at": now}
            for run_id, direction, name, v in edges])

    @staticmethod
    def _row_id(conn: Connection, find, find_params: dict[str, Any], insert, insert_params: dict[str, Any],
                new_first: bool) -> int:
        """The id of a unique row, inserting it if missing (``_ensure`` with statements built once).

        The INSERT returns the new row's id, or nothing when the row exists
        (written before, or by a concurrent writer): then the SELECT finds it.
        """
        if not new_first:
            found = conn.execute(find, find_params).scalar()
            if found is not None:
                return found
        found = conn.execute(insert, insert_params).scalar()
        if found is not None:
            return found
        return conn.execute(find, find_params).scalar_one()

    def reap(self, now: float, stale_after: float, host: str, is_alive) -> list[str]:
        with self._read() as conn:
            running = conn.execute(self._running_runs).all()
        dead = [r.id for r in running
                if (r.host == host and r.pid is not None and not is_alive(r.pid))
                or (r.heartbeat_at is not None and now - r.heartbeat_at > stale_after)]
        if dead:
            self._write(lambda conn: conn.execute(
                update(t.runs).where(t.runs.c.id.in_(dead), t.runs.c.status == RunStatus.RUNNING.value)
                .values(status=RunStatus.KILLED.value, ended_at=now,
                        error_type="ProcessDied",
                        error_message="the process running this run ended without finishing it")))
            with self._read() as conn:
                return list(conn.execute(select(t.runs.c.uuid).where(t.runs.c.id.in_(dead))).scalars())
        return []

    # -- reads ------------------------------------------------------------
    def _runs_query(self):
        return select(t.runs, t.projects.c.name.label("project")).join(
            t.projects, t.projects.c.id == t.runs.c.project_id)

    def resolve_run(self, ref: int | str) -> int:
        """The internal key of a run named by its uuid, a unique prefix of it (8+ characters),
        or its integer id (kept resolving for one release after ids became uuids)."""
        with self._read() as conn:
            return self._run_key(conn, ref)

    def _run_key(self, conn: Connection, ref: int | str) -> int:
        from modeldb_core.errors import ValidationError

        if isinstance(ref, bool):
            raise ValidationError("run id", ref, "must be a run's uuid, a prefix of 8+ of its characters, or its number")
        if isinstance(ref, int) or (isinstance(ref, str) and ref.strip().isdigit() and len(ref.strip()) < 19):
            key = int(ref)
            if not 0 < key < 2 ** 63:
                raise ValidationError("run id", ref, "is out of range")
            found = conn.execute(select(t.runs.c.id).where(t.runs.c.id == key)).scalar()
            if found is None:
                raise NotFoundError("run", ref)
            return found
        text_ref = str(ref).strip().lower()
        if len(text_ref) == 36:
            found = conn.execute(select(t.runs.c.id).where(t.runs.c.uuid == text_ref)).scalar()
            if found is None:
                raise NotFoundError("run", ref)
            return found
        if not 8 <= len(text_ref) < 36 or any(c not in "0123456789abcdef-" for c in text_ref):
            raise ValidationError("run id", ref, "must be a run's uuid, a prefix of 8+ of its characters, or its number")
        upper = text_ref[:-1] + chr(ord(text_ref[-1]) + 1)
        found = conn.execute(select(t.runs.c.id).where(t.runs.c.uuid >= text_ref, t.runs.c.uuid < upper)
                             .limit(2)).scalars().all()
        if not found:
            # UUIDv7s begin with their time: runs of one minute share 8 characters, their
            # random tails do not (what the CLI shows as a short id).
            found = conn.execute(select(t.runs.c.id).where(t.runs.c.uuid.like("%" + text_ref))
                                 .limit(2)).scalars().all()
        if not found:
            raise NotFoundError("run", ref)
        if len(found) > 1:
            raise ValidationError("run id", ref, "matches more than one run: give more characters")
        return found[0]

    def get_run(self, run_id: int | str) -> Run:
        with self._read() as conn:
            key = self._run_key(conn, run_id)
            row = conn.execute(self._runs_query().where(t.runs.c.id == key)).first()
        if row is None:
            raise NotFoundError("run", run_id)
        return Run.from_row(row._mapping)

    def runs_by_external_id(self, external_id: str, orchestrator: str | None = None) -> list[Run]:
        query = self._runs_query().where(t.runs.c.external_id == external_id).order_by(t.runs.c.id)
        if orchestrator is not None:
            query = query.where(t.runs.c.orchestrator == orchestrator)
        with self._read() as conn:
            return [Run.from_row(row._mapping) for row in conn.execute(query)]

    def pipeline_runs(self, ids: Sequence[int] | None = None, external_id: str | None = None,
                      project: str | None = None, limit: int = 1000) -> list[tuple[PipelineRun, Pipeline]]:
        pr, p = t.pipeline_runs, t.pipelines
        query = (select(pr, p.c.project_id, p.c.name, p.c.orchestrator, p.c.structure_hash,
                        p.c.structure.label("pipeline_structure"))
                 .join(p, p.c.id == pr.c.pipeline_id).order_by(pr.c.id).limit(limit))
        if ids is not None:
            query = query.where(pr.c.id.in_(list(ids)))
        if external_id is not None:
            query = query.where(pr.c.external_id == external_id)
        if project is not None:
            query = query.join(t.projects, t.projects.c.id == p.c.project_id).where(t.projects.c.name == project)
        with self._read() as conn:
            rows = [row._mapping for row in conn.execute(query)]
        return [(PipelineRun(id=row["id"], pipeline_id=row["pipeline_id"], external_id=row["external_id"],
                             status=row["status"], started_at=row["started_at"], ended_at=row["ended_at"]),
                 Pipeline(id=row["pipeline_id"], project_id=row["project_id"], name=row["name"],
                          orchestrator=row["orchestrator"], structure_hash=row["structure_hash"],
                          structure=json.loads(row["pipeline_structure"] or "{}")))
                for row in rows]

    def list_runs(self, project: str | None = None, limit: int = 100, offset: int = 0) -> list[Run]:
        query = self._runs_query().order_by(t.runs.c.started_at.desc(), t.runs.c.id.desc()).limit(limit).offset(offset)
        if project is not None:
            query = query.where(t.projects.c.name == project)
        with self._read() as conn:
            return [Run.from_row(row._mapping) for row in conn.execute(query)]

    def list_projects(self) -> list[Project]:
        with self._read() as conn:
            return [Project(**row._mapping) for row in
                    conn.execute(select(t.projects).order_by(t.projects.c.name))]

    def metric_history(self, run_id: int | str, key: str) -> list[Metric]:
        with self._read() as conn:
            run_id = self._run_key(conn, run_id)
            rows = conn.execute(select(t.metrics).where(t.metrics.c.run_id == run_id,
                                                        t.metrics.c.key == key)
                                .order_by(t.metrics.c.step, t.metrics.c.timestamp, t.metrics.c.id))
            return [Metric(key=r.key, value=_metric_value(r.value, r.is_nan), step=r.step,
                           timestamp=r.timestamp) for r in rows]

    def _version_query(self):
        return select(t.artifact_versions, t.artifacts.c.uri, t.artifacts.c.kind).join(
            t.artifacts, t.artifacts.c.id == t.artifact_versions.c.artifact_id)

    @staticmethod
    def _version(row) -> ArtifactVersion:
        m = row._mapping
        return ArtifactVersion(uri=m["uri"], kind=m["kind"], content_hash=m["content_hash"],
                               size=m["size"], metadata=json.loads(m["metadata"]),
                               fingerprint_method=m["fingerprint_method"], id=m["id"],
                               artifact_id=m["artifact_id"], created_at=m["created_at"])

    def get_artifact_version(self, artifact_version_id: int) -> ArtifactVersion:
        with self._read() as conn:
            row = conn.execute(self._version_query()
                               .where(t.artifact_versions.c.id == artifact_version_id)).first()
        if row is None:
            raise NotFoundError("artifact version", artifact_version_id)
        return self._version(row)

    def find_artifact_versions(self, uri_or_hash: str) -> list[ArtifactVersion]:
        query = self._version_query().where(or_(
            t.artifacts.c.uri == uri_or_hash, t.artifact_versions.c.content_hash == uri_or_hash,
        )).order_by(t.artifact_versions.c.id)
        with self._read() as conn:
            return [self._version(r) for r in conn.execute(query)]

    def get_run_detail(self, run_id: int | str) -> RunDetail:
        run = self.get_run(run_id)
        run_id = run.key
        with self._read() as conn:
            params = {r.key: json.loads(r.value_json) for r in conn.execute(
                select(t.params).where(t.params.c.run_id == run_id).order_by(t.params.c.key))}
            latest = {r.key: _metric_value(r.value, r.is_nan) for r in conn.execute(
                select(t.latest_metrics).where(t.latest_metrics.c.run_id == run_id)
                .order_by(t.latest_metrics.c.key))}
            history: dict[str, list[Metric]] = {}
            for r in conn.execute(select(t.metrics).where(t.metrics.c.run_id == run_id)
                                  .order_by(t.metrics.c.key, t.metrics.c.step, t.metrics.c.id)):
                history.setdefault(r.key, []).append(Metric(
                    key=r.key, value=_metric_value(r.value, r.is_nan), step=r.step,
                    timestamp=r.timestamp))
            tags = {r.key: r.value for r in conn.execute(
                select(t.tags).where(t.tags.c.run_id == run_id).order_by(t.tags.c.key))}
            notes = [Note(text=r.text, created_at=r.created_at, id=r.id) for r in conn.execute(
                select(t.notes).where(t.notes.c.run_id == run_id).order_by(t.notes.c.id))]
            io_rows = conn.execute(
                self._version_query().add_columns(t.run_io.c.direction, t.run_io.c.name.label("io_name"))
                .join(t.run_io, t.run_io.c.artifact_version_id == t.artifact_versions.c.id)
                .where(t.run_io.c.run_id == run_id).order_by(t.run_io.c.created_at, t.artifacts.c.uri)).all()
            code = env = None
            if run.code_version_id:
                row = conn.execute(select(t.code_versions)
                                   .where(t.code_versions.c.id == run.code_version_id)).one()
                code = CodeVersion(**row._mapping)
            if run.environment_id:
                row = conn.execute(select(t.environments)
                                   .where(t.environments.c.id == run.environment_id)).one()
                env = Environment(id=row.id, hash=row.hash, python_version=row.python_version,
                                  platform=row.platform, packages=json.loads(row.packages))
            children = list(conn.execute(select(t.runs.c.uuid).where(t.runs.c.parent_run_id == run_id)
                                         .order_by(t.runs.c.id)).scalars())
        ios = [RunIO(direction=r.direction, name=r.io_name, artifact=self._version(r)) for r in io_rows]
        return RunDetail(run=run, params=params, metrics=latest, metric_history=history, tags=tags,
                         notes=notes, inputs=[i for i in ios if i.direction == "input"],
                         outputs=[i for i in ios if i.direction == "output"],
                         code_version=code, environment=env, children=children)

    def lineage(self, node: str, direction: str = "up", depth: int = 10) -> LineageGraph:
        """Breadth-first over run_io (a level is a set of nodes), one query per two levels."""
        kind, _, raw = node.partition(":")
        if kind == "run" and raw and not raw.isdigit():
            raw = str(self.resolve_run(raw))
        if kind not in ("run", "artifact") or not raw.isdigit():
            from modeldb_core.errors import ValidationError
            raise ValidationError("lineage node", node, "must be run:<id> or artifact:<id>")
        if direction not in ("up", "down"):
            from modeldb_core.errors import ValidationError
            raise ValidationError("direction", direction, "must be 'up' or 'down'")
        start = int(raw)
        if kind == "run":
            self.get_run(start)
        else:
            self.get_artifact_version(start)
        # Upstream of a run are the versions it read; upstream of a version the runs that wrote it.
        toward_run = "output" if direction == "up" else "input"
        toward_artifact = "input" if direction == "up" else "output"
        seen = {f"{kind}:{start}": 0}
        edges: list[LineageEdge] = []
        frontier_runs = {start} if kind == "run" else set()
        frontier_versions = {start} if kind == "artifact" else set()
        # The runs on the far side of each version found, fetched with the hop that found it:
        # one round trip per two levels, which is what a long chain costs on PostgreSQL.
        far_runs: dict[int, set[int]] = {}
        # Two parts, not a join: a version read by N frontier runs and written by M runs (a
        # pipeline rerun daily writes the same content) is N + M rows, not N x M.
        io = t.run_io.c
        runs_param = bindparam("runs", expanding=True)
        read = select(io.artifact_version_id).where(io.direction == toward_artifact, io.run_id.in_(runs_param))
        two_hops = union_all(
            select(io.run_id, io.artifact_version_id, literal(True).label("near"))
            .where(io.direction == toward_artifact, io.run_id.in_(runs_param)),
            select(io.run_id, io.artifact_version_id, literal(False).label("near"))
            .where(io.direction == toward_run, io.artifact_version_id.in_(read.scalar_subquery())))
        writers = select(t.run_io.c.run_id, t.run_io.c.artifact_version_id).where(
            t.run_io.c.artifact_version_id.in_(bindparam("versions", expanding=True)),
            t.run_io.c.direction == toward_run)
        r = t.reproductions.c
        near, far = (r.run_id, r.original_run_id) if direction == "up" else (r.original_run_id, r.run_id)
        reproductions = select(near, far).where(near.in_(bindparam("runs", expanding=True)))
        with self._read() as conn:
            reproduced = conn.execute(select(r.run_id).limit(1)).first() is not None
            for level in range(1, depth + 1):
                next_runs: set[int] = set()
                next_versions: set[int] = set()

                def reach(near_key: str, far_key: str, far_id: int, into: set[int]) -> None:
                    edges.append(self._edge(near_key, far_key, direction))
                    if far_key not in seen:
                        seen[far_key] = level
                        into.add(far_id)

                if frontier_runs:
                    # Statements built once: building one per level costs more than running it.
                    for run_id, version_id, near in conn.execute(two_hops, {"runs": list(frontier_runs)}):
                        found = far_runs.setdefault(version_id, set())
                        if near:
                            reach(f"run:{run_id}", f"artifact:{version_id}", version_id, next_versions)
                        else:
                            found.add(run_id)
                if frontier_versions:
                    unknown = frontier_versions - far_runs.keys()
                    if unknown:
                        for run_id, version_id in conn.execute(writers, {"versions": list(unknown)}):
                            far_runs.setdefault(version_id, set()).add(run_id)
                    for version_id in frontier_versions:
                        for run_id in far_runs.get(version_id, ()):
                            reach(f"artifact:{version_id}", f"run:{run_id}", run_id, next_runs)
                if frontier_runs and reproduced:
                    # A reproduction is downstream of the run it reproduced (store/reproduction.py).
                    for run_id, other in conn.execute(reproductions, {"runs": list(frontier_runs)}):
                        reach(f"run:{run_id}", f"run:{other}", other, next_runs)
                frontier_runs, frontier_versions = next_runs, next_versions
                if not frontier_runs and not frontier_versions:
                    break
            labels, public = self._labels(conn, seen)
        # Runs are walked by their keys and shown by their public ids.
        name = lambda k: public.get(k, k)  # noqa: E731
        nodes = []
        for k, d in sorted(seen.items(), key=lambda kv: (kv[1], kv[0])):
            shown = name(k)
            kind_, _, ident = shown.partition(":")
            nodes.append(LineageNode(kind=kind_, id=int(ident) if kind_ == "artifact" else ident,
                                     label=labels.get(k, k), depth=d))
        edges = [LineageEdge(source=name(e.source), target=name(e.target)) for e in dict.fromkeys(edges)]
        return LineageGraph(root=name(f"{kind}:{start}"), nodes=nodes, edges=edges)

    @staticmethod
    def _edge(near: str, far: str, direction: str) -> LineageEdge:
        # Edges always point the way data flows: producer -> artifact -> consumer.
        if direction == "up":
            return LineageEdge(source=far, target=near)
        return LineageEdge(source=near, target=far)

    def _labels(self, conn: Connection, seen: dict[str, int]) -> tuple[dict[str, str], dict[str, str]]:
        """Labels of the nodes, and the public key (``run:<uuid>``) of each run node."""
        run_ids = [int(k[4:]) for k in seen if k.startswith("run:")]
        version_ids = [int(k[9:]) for k in seen if k.startswith("artifact:")]
        labels: dict[str, str] = {}
        public: dict[str, str] = {}
        for chunk in _chunks(run_ids):
            for r in conn.execute(select(t.runs.c.id, t.runs.c.uuid, t.runs.c.name).where(t.runs.c.id.in_(chunk))):
                labels[f"run:{r.id}"] = r.name
                public[f"run:{r.id}"] = f"run:{r.uuid or r.id}"
        for chunk in _chunks(version_ids):
            for r in conn.execute(self._version_query().where(t.artifact_versions.c.id.in_(chunk))):
                labels[f"artifact:{r.id}"] = f"{r.uri}@{r.content_hash.split(':')[-1][:12]}"
        return labels, public

    # -- reads for the web UI ------------------------------------------------
    def project_summaries(self) -> list[ProjectSummary]:
        """The projects with their aggregates; computed again only when the store changed.

        The aggregates scan every run and latest metric (0.7 s at 100,000 runs), and the
        projects page asks for them on every view: a long-lived reader (the web app) keeps
        the last answer while a few indexed maxima, read in the same transaction, stay the
        same. What they do not see (a run's end rewritten by a later one) is at most
        ``SUMMARY_MAX_AGE`` old. One thread computes; the others wait for its answer.
        """
        def still(conn: Connection) -> tuple[tuple, list[ProjectSummary] | None]:
            marker = tuple(conn.execute(self._summary_marker).one())
            kept = self._summaries
            fresh = kept is not None and kept[0] == marker and time.monotonic() - kept[1] < SUMMARY_MAX_AGE
            return marker, kept[2] if fresh else None

        with self._read() as conn:
            _, found = still(conn)
        if found is not None:
            return found
        with self._summarising:
            with self._read() as conn:
                marker, found = still(conn)  # another thread may have computed them meanwhile
                if found is None:
                    found = self._compute_summaries(conn)
                    self._summaries = (marker, time.monotonic(), found)
            return found

    def _compute_summaries(self, conn: Connection) -> list[ProjectSummary]:
        """Four grouped statements, whatever the number of runs."""
        runs, lm = t.runs, t.latest_metrics
        evaluation = func.sum(case((runs.c.phase == "evaluation", 1), else_=0))
        projects = [Project(**r._mapping) for r in
                    conn.execute(select(t.projects).order_by(t.projects.c.name))]
        run_stats = {r.project_id: r for r in conn.execute(
            select(runs.c.project_id, func.count().label("n"),
                   func.max(func.coalesce(runs.c.ended_at, runs.c.started_at)).label("last"))
            .group_by(runs.c.project_id))}
        pipelines = dict(conn.execute(
            select(t.pipelines.c.project_id, func.count(func.distinct(t.pipelines.c.name)))
            .group_by(t.pipelines.c.project_id)).all())
        orchestrators: dict[int, set[str]] = {}
        for pid, name in conn.execute(
                select(runs.c.project_id, runs.c.orchestrator)
                .where(runs.c.orchestrator.is_not(None)).distinct()
                .union(select(t.pipelines.c.project_id, t.pipelines.c.orchestrator))):
            orchestrators.setdefault(pid, set()).add(name)
        metrics: dict[int, dict[str, MetricRange]] = {}
        for r in conn.execute(
                select(runs.c.project_id, lm.c.key, func.count().label("n"),
                       evaluation.label("ev"), func.min(lm.c.value).label("lo"),
                       func.max(lm.c.value).label("hi"))
                .join(runs, runs.c.id == lm.c.run_id)
                .group_by(runs.c.project_id, lm.c.key)):
            metrics.setdefault(r.project_id, {})[r.key] = MetricRange(
                runs=r.n, evaluation_runs=int(r.ev or 0), minimum=r.lo, maximum=r.hi)
        out = []
        for p in projects:
            stats = run_stats.get(p.id)
            out.append(ProjectSummary(
                project=p, runs=stats.n if stats else 0, pipelines=pipelines.get(p.id, 0),
                last_activity=stats.last if stats else None,
                orchestrators=sorted(orchestrators.get(p.id, ())), metrics=metrics.get(p.id, {})))
        return out

    def _project_id_or_404(self, conn: Connection, project: str) -> int:
        found = conn.execute(select(t.projects.c.id).where(t.projects.c.name == project)).scalar()
        if found is None:
            raise NotFoundError("project", project)
        return found

    def run_points(self, project: str, metric: str, limit: int = 10_000,
                   with_params: bool | Sequence[str] = True) -> list[RunPoint]:
        runs, lm = t.runs, t.latest_metrics
        with self._read() as conn:
            project_id = self._project_id_or_404(conn, project)
            chosen = (select(runs.c.id, runs.c.uuid, runs.c.name, runs.c.status, runs.c.phase,
                             runs.c.started_at, lm.c.value, lm.c.is_nan)
                      .join(lm, and_(lm.c.run_id == runs.c.id, lm.c.key == metric))
                      .where(runs.c.project_id == project_id)
                      .order_by(runs.c.started_at.desc(), runs.c.id.desc()).limit(limit))
            rows = conn.execute(chosen).all()
            params: dict[int, dict[str, Any]] = {}
            if with_params and rows:
                ids = chosen.with_only_columns(runs.c.id).subquery()
                query = (select(t.params.c.run_id, t.params.c.key, t.params.c.value_json)
                         .where(t.params.c.run_id.in_(select(ids.c.id))))
                if not isinstance(with_params, bool):  # only these keys
                    query = query.where(t.params.c.key.in_(list(with_params)))
                for run_id, key, value in conn.execute(query):
                    params.setdefault(run_id, {})[key] = json.loads(value)
        # Tuples, not Row attributes: this loop runs 10,000 times for one chart.
        return [RunPoint(uuid, name, status, phase, started_at,
                         math.nan if is_nan or value is None else value, params.get(run_id, {}))
                for run_id, uuid, name, status, phase, started_at, value, is_nan in reversed(rows)]

    def key_names(self, project: str | None = None) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        with self._read() as conn:
            project_id = self._project_id_or_404(conn, project) if project is not None else None
            for name, table in (("metrics", t.latest_metrics), ("params", t.params), ("tags", t.tags)):
                query = select(table.c.key).distinct().order_by(table.c.key)
                if project_id is not None:
                    query = query.join(t.runs, t.runs.c.id == table.c.run_id).where(
                        t.runs.c.project_id == project_id)
                out[name] = list(conn.execute(query).scalars())
        return out

    def inputs_and_notes(self, run_ids: Sequence[str]) -> dict[str, tuple[list[RunIO], list[Note]]]:
        if not run_ids:
            return {}
        with self._read() as conn:
            keys: dict[int, str] = {}
            for chunk in _chunks(list(run_ids)):
                keys.update(conn.execute(select(t.runs.c.id, t.runs.c.uuid).where(t.runs.c.uuid.in_(chunk))).all())
            out: dict[int, tuple[list[RunIO], list[Note]]] = {k: ([], []) for k in keys}
            for chunk in _chunks(list(out)):
                for r in conn.execute(
                        self._version_query().add_columns(t.run_io.c.run_id, t.run_io.c.name.label("io_name"))
                        .join(t.run_io, t.run_io.c.artifact_version_id == t.artifact_versions.c.id)
                        .where(t.run_io.c.run_id.in_(chunk), t.run_io.c.direction == "input")
                        .order_by(t.run_io.c.run_id, t.artifacts.c.uri)):
                    out[r.run_id][0].append(RunIO(direction="input", name=r.io_name, artifact=self._version(r)))
                for r in conn.execute(select(t.notes).where(t.notes.c.run_id.in_(chunk))
                                      .order_by(t.notes.c.id)):
                    out[r.run_id][1].append(Note(text=r.text, created_at=r.created_at, id=r.id))
        return {keys[k]: v for k, v in out.items()}

    # -- the models table (compiled in store/models.py) -------------------------
    def models_overview(self, project: str):
        from . import models

        from modeldb_core.models_view import METRIC_ALIASES

        with self._read() as conn:
            return models.overview(conn, project, METRIC_ALIASES)

    def models_page(self, query):
        from . import models

        with self._read() as conn:
            return models.page(conn, query)

    def model_trainers(self, project: str):
        from . import models

        with self._read() as conn:
            return models.trainers(conn, project)

    # -- search (compiled in store/query.py) ----------------------------------
    def search_runs(self, query, limit: int | None = 100, offset: int = 0):
        from . import query as compiled

        with self._read() as conn:
            return compiled.search(conn, query, limit, offset)

    def stream_runs(self, query, batch: int = 1000):
        from . import query as compiled

        with self._read() as conn:
            yield from compiled.stream(conn, query, batch)

    def group_runs(self, query, by, metrics=()):
        from . import query as compiled

        with self._read() as conn:
            return compiled.group(conn, query, by, metrics)

    def bulk_create_runs(self, new_runs: Sequence[NewRun]) -> list[str]:
        """``create_runs`` for thousands of runs, with a bigger SQLite page cache for the connection."""
        from . import bulk

        def work(conn):
            if self.dialect == "sqlite":
                # A bigger page cache for this connection: index pages stay in memory.
                conn.exec_driver_sql(bulk.SQLITE_CACHE_PRAGMA)
            return self._insert_new_runs(conn, new_runs)
        return self._write(work)

    def list_artifacts(self, search: str | None = None, kind: str | None = None, limit: int = 100):
        from . import query as compiled

        with self._read() as conn:
            return compiled.list_artifacts(conn, search, kind, limit)

    def artifact_uses(self, version_ids):
        from . import query as compiled

        with self._read() as conn:
            return compiled.artifact_uses(conn, version_ids)

    # -- access tokens ------------------------------------------------------
    def add_token(self, token, secret_hash: str) -> None:
        from . import tokens

        tokens.add(self, token, secret_hash)

    def list_tokens(self):
        from . import tokens

        return tokens.listing(self)

    def find_token(self, token_id: str):
        from . import tokens

        return tokens.find(self, token_id)

    def revoke_token(self, token_id: str):
        from . import tokens

        return tokens.revoke(self, token_id)

    # -- schema -----------------------------------------------------------
    def upgrade(self) -> str | None:
        with self._translated():
            return migrate.upgrade(self.engine)

    def schema_revision(self) -> str | None:
        with self._translated():
            return migrate.current_revision(self.engine)

    def close(self) -> None:
        self.engine.dispose()


def _chunks(items: list[int], size: int = 500):
    for i in range(0, len(items), size):
        yield items[i:i + size]
