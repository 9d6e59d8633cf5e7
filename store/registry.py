"""The model registry in the SQL store: models, versions, aliases, policies, approvals, audit.

Every change runs in one write transaction that first takes the registry's lock
(``_registry_write``): PostgreSQL's transaction-scoped advisory lock, SQLite's ``BEGIN
IMMEDIATE`` (store/engine.py). Under it, version numbers are ``max + 1`` (no gap,
no duplicate whatever the number of registering processes), an alias move reads
the holder it replaces, and each change appends its audit event to the hash chain
(modeldb_core/registry/audit.py) in the same transaction: a change and its audit
event land together or not at all. No statement here updates or deletes an audit
event. On PostgreSQL the lock is taken by the statement sent with the transaction's
``BEGIN``, and a model's new version is written by one more (``_register_statement``)
before its audit event: four round trips with the ``COMMIT``.
"""
from __future__ import annotations

import functools
import hashlib
import json
import time
from typing import TYPE_CHECKING, Any, Iterator, NamedTuple, Sequence

from sqlalchemy import and_, bindparam, func, literal, or_, select, true, union_all
from sqlalchemy.engine import Connection

from modeldb_core import validation
from modeldb_core.config import DEFAULT_PROJECT
from modeldb_core.errors import AmbiguousModelError, NotFoundError, PromotionRefusedError, ValidationError
from modeldb_core.model import ArtifactVersion
from modeldb_core.registry import audit, names, policy as policies
from modeldb_core.registry.model import (
    CARD_FIELDS, AliasMove, Approval, AuditEvent, ChainCheck, ModelVersion, RegisteredModel,
)

from modeldb_core.events import MODEL_REGISTERED, Event

from . import schema as t
from .events import applier
from .rows import encode_json

if TYPE_CHECKING:
    from .sql_store import SqlStore

_LOCK_KEY = int(hashlib.sha256(b"modeldb-registry").hexdigest()[:15], 16)
_CHAIN_BATCH = 5000
_CHAIN_END = "modeldb.audit_chain_end"


def _decode(value: str | None) -> Any:
    return None if value is None else json.loads(value)


class RegistryStore:
    """The registry's methods of ``SqlStore`` (declared in ``MetadataStore``)."""

    # -- the write path ------------------------------------------------------------
    def _registry_write(self: "SqlStore", work):
        if self.dialect == "postgresql":  # the lock is the transaction's first statement, sent with its BEGIN
            return self._write(work, opening=f"SELECT pg_advisory_xact_lock({_LOCK_KEY})")
        return self._write(work)

    # The hash of the chain's last event (None: no event yet).
    _chain_end = select(t.audit_events.c.hash).order_by(t.audit_events.c.id.desc()).limit(1)

    @staticmethod
    def _remember_chain_end(conn: Connection, last: str | None) -> None:
        """The chain's end as a statement of this transaction read it, under the registry's lock:
        the next ``_audit`` of the transaction need not read it again."""
        conn.info[_CHAIN_END] = (conn.get_transaction(), last or audit.GENESIS)

    def _audit(self, conn: Connection, actor: str, action: str, subject: str, model_id: int,
               before: Any = None, after: Any = None, reason: str | None = None, at: float | None = None) -> None:
        """Append one event about the model ``model_id`` to the chain (the caller holds the
        registry lock). ``subject`` names the model with its project (``names.model_uri``)."""
        # The chain's end: remembered from this transaction's previous event, else read. (``info``
        # outlives the transaction with the pooled connection: the entry names its transaction.)
        transaction = conn.get_transaction()
        remembered = conn.info.get(_CHAIN_END)
        last = remembered[1] if remembered is not None and remembered[0] is transaction else None
        if last is None:
            last = conn.execute(self._chain_end).scalar()
        prev = last or audit.GENESIS
        at = time.time() if at is None else at
        before_text = None if before is None else encode_json(before)
        after_text = None if after is None else encode_json(after)
        digest = audit.link_hash(prev, at, actor, action, subject, before_text, after_text, reason)
        conn.execute(_insert_audit, {
            "at": at, "actor": actor, "action": action, "subject": subject, "before": before_text,
            "after": after_text, "reason": reason, "prev_hash": prev, "hash": digest, "model_id": model_id})
        conn.info[_CHAIN_END] = (transaction, digest)

    # -- models ------------------------------------------------------------------
    def _model_row(self, conn: Connection, ref: names.ModelRef):
        """The model ``ref`` names (its row, with ``project``: the project's name). Without a
        project, the one model of that name; several projects holding it is an error naming them."""
        m, p = t.registered_models, t.projects
        query = (select(m, p.c.name.label("project")).join(p, p.c.id == m.c.project_id)
                 .where(m.c.name == ref.name).order_by(p.c.name))
        if ref.project is not None:
            query = query.where(p.c.name == ref.project)
        rows = conn.execute(query).all()
        if not rows:
            raise NotFoundError("model", ref.name if ref.project is None else f"{ref.project}/{ref.name}")
        if len(rows) > 1:
            raise AmbiguousModelError(str(ref), ref.name, [r.project for r in rows])
        return rows[0]

    def _model_for_write(self: "SqlStore", conn: Connection, name: str, project: str | None,
                         run_key: int | None, actor: str, fields: dict[str, Any] | None = None) -> tuple[int, str]:
        """The model named ``name`` that a write goes to, made if new: (its id, its project). Its
        project is the one given, else the run's, else the one project that holds the name, else
        the default project. One statement finds it (with the run's project, when there is a run)."""
        m, p = t.registered_models, t.projects
        if project is None and run_key is not None:
            project, found = conn.execute(
                select(p.c.name, m.c.id).select_from(t.runs).join(p, p.c.id == t.runs.c.project_id)
                .outerjoin(m, (m.c.project_id == p.c.id) & (m.c.name == name)).where(t.runs.c.id == run_key)).one()
        else:
            holders = conn.execute(select(p.c.name, m.c.id).join(m, m.c.project_id == p.c.id)
                                   .where(m.c.name == name).order_by(p.c.name)).all()
            if project is None and len(holders) > 1:
                raise AmbiguousModelError(names.model_uri(name), name, [h.name for h in holders])
            if project is None:
                project = holders[0].name if holders else DEFAULT_PROJECT
            found = next((h.id for h in holders if h.name == project), None)
        if found is not None:
            return found, project
        fields = dict(fields or {})
        values = {"name": name, "project_id": self._project_id(conn, project),
                  "description": fields.get("description"), "owner": fields.get("owner") or actor,
                  "tags": encode_json(fields.get("tags") or {}), "card": encode_json(fields.get("card") or {}),
                  "created_at": time.time()}
        model_id = conn.execute(m.insert().values(**values).returning(m.c.id)).scalar_one()
        self._audit(conn, actor, "model.create", names.model_uri(name, project), model_id,
                    after=_model_fields(values))
        return model_id, project

    def create_model(self: "SqlStore", name: str, actor: str, project: str | None = None,
                     description: str | None = None, owner: str | None = None,
                     tags: dict[str, str] | None = None, card: dict[str, str] | None = None) -> RegisteredModel:
        """The model named ``name`` (NFC, trimmed) in ``project``, made if new; an existing one is
        returned as is. Without a project: the one project holding the name, else the default one."""
        ref = names.ModelRef(names.model_name(name), project=_project(project))
        fields = {"description": description, "owner": owner, "tags": tags or {}, "card": _card(card)}

        _, home = self._registry_write(lambda conn: self._model_for_write(conn, ref.name, ref.project, None, actor,
                                                                          fields))
        return self.get_model(ref.name, project=home)

    def update_model(self: "SqlStore", name: str, actor: str, reason: str | None = None,
                     project: str | None = None, **changes: Any) -> RegisteredModel:
        """Change a model's description, owner, tags or card fields (audited before/after)."""
        ref = names.model_ref(name, project)
        allowed = {"description", "owner", "tags", "card"}
        if set(changes) - allowed:
            raise ValidationError("model field", sorted(set(changes) - allowed), f"must be one of {sorted(allowed)}")
        if "card" in changes:
            changes["card"] = _card(changes["card"])

        def work(conn: Connection) -> str:
            row = self._model_row(conn, ref)
            before = _model_fields(row._mapping)
            stored = {k: encode_json(v) if k in ("tags", "card") else v for k, v in changes.items()}
            conn.execute(t.registered_models.update().where(t.registered_models.c.id == row.id).values(**stored))
            after = {**before, **changes}
            self._audit(conn, actor, "model.update", names.model_uri(row.name, row.project), row.id,
                        before=before, after=after, reason=reason)
            return row.project
        return self.get_model(ref.name, project=self._registry_write(work))

    def get_model(self: "SqlStore", name: str, project: str | None = None) -> RegisteredModel:
        """The model ``name`` (``project/name``, ``models:/...``) names, in ``project`` when given."""
        ref = names.model_ref(name, project)
        with self._read() as conn:
            return self._models(conn, [self._model_row(conn, ref)])[0]

    def list_models(self: "SqlStore", project: str | None = None) -> list[RegisteredModel]:
        query = select(t.registered_models).order_by(t.registered_models.c.name, t.registered_models.c.project_id)
        if project is not None:
            query = query.join(t.projects, t.projects.c.id == t.registered_models.c.project_id).where(
                t.projects.c.name == project)
        with self._read() as conn:
            return self._models(conn, conn.execute(query).all())

    def _models(self, conn: Connection, rows: Sequence[Any]) -> list[RegisteredModel]:
        ids = [r.id for r in rows]
        if not ids:
            return []
        mv = t.model_versions
        latest = dict(conn.execute(select(mv.c.model_id, func.max(mv.c.version))
                                   .where(mv.c.model_id.in_(ids)).group_by(mv.c.model_id)).all())
        aliases: dict[int, dict[str, int]] = {}
        for model_id, alias, version in conn.execute(
                select(t.model_aliases.c.model_id, t.model_aliases.c.alias, mv.c.version)
                .join(mv, mv.c.id == t.model_aliases.c.version_id)
                .where(t.model_aliases.c.model_id.in_(ids)).order_by(t.model_aliases.c.alias)):
            aliases.setdefault(model_id, {})[alias] = version
        projects = dict(conn.execute(select(t.projects.c.id, t.projects.c.name)).all()) \
            if any(r.project_id for r in rows) else {}
        return [RegisteredModel(name=r.name, id=r.id, project=projects.get(r.project_id),
                                description=r.description, owner=r.owner, tags=json.loads(r.tags),
                                card=json.loads(r.card), created_at=r.created_at,
                                aliases=aliases.get(r.id, {}), latest_version=latest.get(r.id))
                for r in rows]

    # -- versions ----------------------------------------------------------------
    def register_model_version(self: "SqlStore", name: str, artifact: ArtifactVersion, actor: str,
                               run: str | int | None = None, description: str | None = None,
                               project: str | None = None) -> ModelVersion:
        """Version N+1 of ``name`` for this content (made with the model if new); the content
        registered before under this model gives back its version, unchanged. The model is the
        one of ``project`` (or the project ``name`` names), else of the run's project, else the
        one project holding the name, else of the default project."""
        ref = names.ModelRef(names.model_name(name), project=_project(project))
        return self._registry_write(
            lambda conn: self._register(conn, ref.name, artifact, actor, run, description, ref.project))

    def _register(self: "SqlStore", conn: Connection, name: str, artifact: ArtifactVersion, actor: str,
                  run: str | int | None, description: str | None, project: str | None) -> ModelVersion:
        run_key = self._run_key(conn, run) if run is not None else None
        now = time.time()
        at_once = self.dialect == "postgresql"
        made = self._register_at_once(conn, name, artifact, actor, run_key, description, project, now) \
            if at_once else None
        if made is None:  # after the one statement, the artifact's rows are there: looked up first
            made = self._register_by_steps(conn, name, artifact, actor, run_key, description, project, now,
                                           new_first=not at_once)
        mv = t.model_versions
        if made.existing is not None:
            return self._versions(conn, mv.c.id == made.existing)[0]
        if run_key is not None:  # the run's uuid, the inputs it read, its metrics
            found = self._versions(conn, mv.c.id == made.new_id)[0]
        else:  # nothing to read back: what was written is the whole version
            found = ModelVersion(model=name, version=made.number, artifact_uri=artifact.uri,
                                 content_hash=artifact.content_hash, id=made.new_id,
                                 artifact_version_id=made.version_id, description=description, created_by=actor,
                                 created_at=now, project=made.project, model_id=made.model_id)
        self._audit(conn, actor, "version.register", found.qualified_uri, made.model_id, after={
            "version": made.number, "artifact": artifact.uri, "content_hash": artifact.content_hash,
            "run": found.run_id}, at=now)
        return found

    def _register_at_once(self, conn: Connection, name: str, artifact: ArtifactVersion, actor: str,
                          run_key: int | None, description: str | None, project: str | None,
                          now: float) -> "_Made | None":
        """PostgreSQL: the registration's rows in one statement (``_register_statement``). None when
        it found no model (not there yet, or the name is ambiguous) or no artifact version (its
        artifact's row came from a writer that committed while the statement ran: no lock keeps
        tracking from writing artifacts); the steps do it then."""
        row = conn.execute(_register_statement(), {
            "name": name, "project": project, "run": run_key, "uri": artifact.uri, "kind": artifact.kind or "model",
            "hash": artifact.content_hash, "size": artifact.size, "metadata": encode_json(artifact.metadata),
            "method": artifact.fingerprint_method, "description": description, "actor": actor, "now": now}).first()
        if row is None:
            return None
        self._remember_chain_end(conn, row.chain_end)
        return _Made(row.model_id, row.project, row.version_id, row.number, row.existing, row.new_id)

    def _register_by_steps(self: "SqlStore", conn: Connection, name: str, artifact: ArtifactVersion, actor: str,
                           run_key: int | None, description: str | None, project: str | None,
                           now: float, new_first: bool = True) -> "_Made":
        """The registration's rows statement by statement (the model made if new). ``new_first``:
        the artifact's rows are likely new (a model file registered mostly is): inserted first,
        one round trip when they are."""
        model_id, project = self._model_for_write(conn, name, project, run_key, actor)
        artifact_id = self._row_id(conn, self._select_artifact, {"uri": artifact.uri}, self._insert_artifact,
                                   {"uri": artifact.uri, "kind": artifact.kind or "model", "created_at": now},
                                   new_first)
        version_id = self._row_id(
            conn, self._select_version, {"artifact": artifact_id, "hash": artifact.content_hash},
            self._insert_version, {"artifact_id": artifact_id, "content_hash": artifact.content_hash,
                                   "size": artifact.size, "metadata": encode_json(artifact.metadata),
                                   "fingerprint_method": artifact.fingerprint_method, "created_at": now},
            new_first)
        # With the chain's end (under the lock, only this transaction appends to it): one round trip less.
        newest, existing, chain_end = conn.execute(_numbers, {"model": model_id, "version": version_id}).one()
        self._remember_chain_end(conn, chain_end)
        if existing is not None:
            return _Made(model_id, project, version_id, None, existing, None)
        number = (newest or 0) + 1
        new_id = conn.execute(_insert_model_version, {
            "model_id": model_id, "version": number, "run_id": run_key, "artifact_version_id": version_id,
            "description": description, "created_by": actor, "created_at": now}).scalar_one()
        if run_key is not None:
            conn.execute(self._insert_io, {"run_id": run_key, "artifact_version_id": version_id,
                                           "direction": "output", "name": "model", "created_at": now})
            conn.execute(_insert_inputs, {"version": new_id, "run": run_key})
        return _Made(model_id, project, version_id, number, None, new_id)

    def _versions(self, conn: Connection, where: Any, detail: bool = True,
                  named: names.ModelRef | None = None) -> list[ModelVersion]:
        """The versions ``where`` selects; ``detail``: with their inputs, aliases and run's metrics.
        ``named``: a reference without a project; the same statement counts the models of that
        name, and several is an error naming their projects (AmbiguousModelError)."""
        mv, m, av, a, p = t.model_versions, t.registered_models, t.artifact_versions, t.artifacts, t.projects
        columns = [mv, m.c.name, p.c.name.label("project"), av.c.content_hash, a.c.uri,
                   t.runs.c.uuid.label("run_uuid")]
        if named is not None:
            same = t.registered_models.alias("same")
            columns.append(select(func.count()).where(same.c.name == named.name).scalar_subquery().label("named"))
        rows = conn.execute(
            select(*columns)
            .join(m, m.c.id == mv.c.model_id).join(p, p.c.id == m.c.project_id)
            .join(av, av.c.id == mv.c.artifact_version_id)
            .join(a, a.c.id == av.c.artifact_id).outerjoin(t.runs, t.runs.c.id == mv.c.run_id)
            .where(where).order_by(mv.c.model_id, mv.c.version)).all()
        if named is not None and rows and rows[0].named > 1:
            self._model_row(conn, named)  # raises, naming the projects
        if not rows or not detail:
            return [ModelVersion(model=r.name, version=r.version, artifact_uri=r.uri, content_hash=r.content_hash,
                                 id=r.id, run_id=r.run_uuid, artifact_version_id=r.artifact_version_id,
                                 description=r.description, created_by=r.created_by, created_at=r.created_at,
                                 project=r.project, model_id=r.model_id)
                    for r in rows]
        ids = [r.id for r in rows]
        inputs: dict[int, list[tuple[int, str, str]]] = {}
        for vid, avid, uri, digest in conn.execute(
                select(t.model_version_inputs.c.model_version_id, av.c.id, a.c.uri, av.c.content_hash)
                .join(av, av.c.id == t.model_version_inputs.c.artifact_version_id)
                .join(a, a.c.id == av.c.artifact_id)
                .where(t.model_version_inputs.c.model_version_id.in_(ids)).order_by(av.c.id)):
            inputs.setdefault(vid, []).append((avid, uri, digest))
        aliases: dict[int, list[str]] = {}
        for vid, alias in conn.execute(select(t.model_aliases.c.version_id, t.model_aliases.c.alias)
                                       .where(t.model_aliases.c.version_id.in_(ids))
                                       .order_by(t.model_aliases.c.alias)):
            aliases.setdefault(vid, []).append(alias)
        run_keys = [r.run_id for r in rows if r.run_id is not None]
        metrics: dict[int, dict[str, float]] = {}
        if run_keys:
            lm = t.latest_metrics
            for run_key, key, value, is_nan in conn.execute(
                    select(lm.c.run_id, lm.c.key, lm.c.value, lm.c.is_nan).where(lm.c.run_id.in_(run_keys))):
                metrics.setdefault(run_key, {})[key] = float("nan") if is_nan or value is None else value
        return [ModelVersion(model=r.name, version=r.version, artifact_uri=r.uri, content_hash=r.content_hash,
                             id=r.id, run_id=r.run_uuid, artifact_version_id=r.artifact_version_id,
                             description=r.description, created_by=r.created_by, created_at=r.created_at,
                             inputs=inputs.get(r.id, []), aliases=aliases.get(r.id, []),
                             metrics=metrics.get(r.run_id, {}), project=r.project, model_id=r.model_id)
                for r in rows]

    def model_versions(self: "SqlStore", name: str, project: str | None = None) -> list[ModelVersion]:
        ref = names.model_ref(name, project)
        with self._read() as conn:
            model = self._model_row(conn, ref)
            return self._versions(conn, t.model_versions.c.model_id == model.id)

    def resolve_model(self: "SqlStore", ref: str | names.ModelRef, at: float | None = None,
                      detail: bool = True) -> ModelVersion:
        """The version a ``models:/`` URI names: ``/N``, ``@alias`` (as it was at ``at``, when
        given), or a bare model's newest version. The one resolver of the CLI, API and Python.
        ``detail=False``: only the artifact, its hash and the run (one statement; what loading needs)."""
        if not isinstance(ref, names.ModelRef):
            ref = names.parse(ref)
        with self._read(short=True) as conn:
            return self._resolve(conn, ref, at, detail)

    def _resolve(self, conn: Connection, ref: names.ModelRef, at: float | None = None,
                 detail: bool = True) -> ModelVersion:
        """One statement finds the version (and, for a name without its project, counts the
        models of that name: several is an error naming their projects); only when it finds
        none do more say why."""
        mv, m = t.model_versions, t.registered_models
        models = m.c.name == ref.name
        if ref.project is not None:
            models = models & (m.c.project_id == select(t.projects.c.id).where(
                t.projects.c.name == ref.project).scalar_subquery())
        if ref.alias is not None:
            if at is None:
                ma = t.model_aliases
                where = mv.c.id.in_(select(ma.c.version_id).join(m, m.c.id == ma.c.model_id)
                                    .where(models, ma.c.alias == ref.alias))
            else:
                am = t.alias_moves
                # What the alias of each model so named pointed at then (the model: the outer row's).
                then = (select(am.c.to_version_id).where(am.c.model_id == m.c.id, am.c.alias == ref.alias,
                                                         am.c.at <= at)
                        .order_by(am.c.at.desc(), am.c.id.desc()).limit(1).correlate(m).scalar_subquery())
                where = models & (mv.c.id == then)
        elif ref.version is not None:
            where = models & (mv.c.version == ref.version)
        else:
            newest = t.model_versions.alias("newest")
            where = models & (mv.c.version == select(func.max(newest.c.version)).where(
                newest.c.model_id == mv.c.model_id).scalar_subquery())
        found = self._versions(conn, where, detail=detail, named=ref if ref.project is None else None)
        if found:
            return found[0]
        self._model_row(conn, ref.model)  # an unknown (or ambiguous) model says so
        if ref.alias is not None:
            when = f" at {_iso(at)}" if at is not None else ""
            raise NotFoundError("alias", f"{ref}{when} (the alias points at no version)")
        if ref.version is None:
            raise NotFoundError("model version", f"{ref} (the model has no versions)")
        raise NotFoundError("model version", str(ref))

    # -- aliases, policies, approvals --------------------------------------------
    def set_policy(self: "SqlStore", name: str, alias: str, rules: dict[str, Any], actor: str,
                   reason: str | None = None, project: str | None = None) -> dict[str, Any]:
        """Store the promotion policy of ``name``'s ``alias`` (an empty one removes every rule)."""
        ref, alias = names.model_ref(name, project), names.alias_name(alias)
        policy = policies.parse(rules)
        if policy.metrics:
            with self._read() as conn:
                known = set(conn.execute(select(t.latest_metrics.c.key).distinct()
                                         .where(t.latest_metrics.c.key.in_(sorted(policy.metrics)))).scalars())
            for metric in sorted(policy.metrics - known):
                raise ValidationError("policy metric", metric, "is not a metric any run has logged")
        stored = policy.to_json()

        def work(conn: Connection) -> None:
            model = self._model_row(conn, ref)
            pp = t.promotion_policies
            old = conn.execute(select(pp.c.rules).where(pp.c.model_id == model.id, pp.c.alias == alias)).scalar()
            conn.execute(pp.delete().where(pp.c.model_id == model.id, pp.c.alias == alias))
            conn.execute(pp.insert().values(model_id=model.id, alias=alias, rules=encode_json(stored),
                                            updated_at=time.time()))
            self._audit(conn, actor, "policy.set", f"{names.model_uri(model.name, model.project)}@{alias}",
                        model.id, before=_decode(old), after=stored, reason=reason)
        self._registry_write(work)
        return stored

    def get_policy(self: "SqlStore", name: str, alias: str, project: str | None = None) -> dict[str, Any] | None:
        ref, alias = names.model_ref(name, project), names.alias_name(alias)
        with self._read() as conn:
            model = self._model_row(conn, ref)
            return self._policy(conn, model.id, alias)

    def policies(self: "SqlStore", name: str, project: str | None = None) -> dict[str, dict[str, Any]]:
        ref = names.model_ref(name, project)
        pp = t.promotion_policies
        with self._read() as conn:
            model = self._model_row(conn, ref)
            return {alias: json.loads(rules) for alias, rules in conn.execute(
                select(pp.c.alias, pp.c.rules).where(pp.c.model_id == model.id).order_by(pp.c.alias))}

    @staticmethod
    def _policy(conn: Connection, model_id: int, alias: str) -> dict[str, Any] | None:
        pp = t.promotion_policies
        return _decode(conn.execute(select(pp.c.rules).where(pp.c.model_id == model_id,
                                                             pp.c.alias == alias)).scalar())

    def approve(self: "SqlStore", ref: str, alias: str, actor: str, reason: str | None = None) -> Approval:
        """``actor`` approves the version ``ref`` names for ``alias`` (once per actor)."""
        alias = names.alias_name(alias)

        def work(conn: Connection) -> Approval:
            version = self._resolve(conn, _as_ref(ref))
            now = time.time()
            done = conn.execute(self._insert(t.approvals).values(
                version_id=version.id, alias=alias, actor=actor, at=now, reason=reason)
                .on_conflict_do_nothing()).rowcount
            if done:
                self._audit(conn, actor, "version.approve", version.qualified_uri, version.model_id,
                            after={"alias": alias}, reason=reason, at=now)
            return Approval(version.model, version.version, alias, actor, now, reason, version.project)
        return self._registry_write(work)

    def approvals(self: "SqlStore", name: str, project: str | None = None) -> list[Approval]:
        ref = names.model_ref(name, project)
        ap, mv = t.approvals, t.model_versions
        with self._read() as conn:
            model = self._model_row(conn, ref)
            rows = conn.execute(select(ap, mv.c.version).join(mv, mv.c.id == ap.c.version_id)
                                .where(mv.c.model_id == model.id).order_by(ap.c.at, ap.c.id))
            return [Approval(model.name, r.version, r.alias, r.actor, r.at, r.reason, model.project) for r in rows]

    def promote(self: "SqlStore", ref: str, alias: str, actor: str, reason: str | None = None,
                force: bool = False) -> AliasMove:
        """Point ``alias`` at the version ``ref`` names, if the alias's policy allows it.

        The evidence (every rule's verdict and numbers, the holder replaced) is kept with
        the move. ``force`` skips the rules that fail, needs a ``reason``, and is recorded.
        """
        alias = names.alias_name(alias)
        if force and not (reason and reason.strip()):
            raise ValidationError("reason", reason, "--force needs a reason; it is recorded in the audit log")
        return self._registry_write(lambda conn: self._promote(conn, _as_ref(ref), alias, actor, reason, force))

    def _promote(self, conn: Connection, ref: names.ModelRef, alias: str, actor: str, reason: str | None,
                 force: bool) -> AliasMove:
        candidate = self._resolve(conn, ref)
        model_id = candidate.model_id
        holder_id = conn.execute(select(t.model_aliases.c.version_id).where(
            t.model_aliases.c.model_id == model_id, t.model_aliases.c.alias == alias)).scalar()
        holder = self._versions(conn, t.model_versions.c.id == holder_id)[0] if holder_id is not None else None
        evidence: dict[str, Any] = {"holder": holder.version if holder else None}
        rules = self._policy(conn, model_id, alias)
        failed = None
        if rules:
            policy = policies.parse(rules)
            facts = self._facts(conn, policy, candidate, holder, alias)
            verdicts = policies.evaluate(policy, facts)
            evidence["policy"] = rules
            evidence["metrics"] = facts.metrics
            evidence["approvals"] = facts.approvers
            evidence["evaluation_runs"] = facts.evaluation_runs
            evidence["verdicts"] = [{"rule": v.rule, "passed": v.passed, "detail": v.detail, **v.values}
                                    for v in verdicts]
            failed = next((v for v in verdicts if not v.passed), None)
            if failed is not None and not force:
                raise PromotionRefusedError(candidate.uri, alias, failed)
        forced = bool(force and failed is not None)
        now = time.time()
        am = t.alias_moves
        conn.execute(am.insert().values(model_id=model_id, alias=alias, from_version_id=holder_id,
                                        to_version_id=candidate.id, actor=actor, at=now, reason=reason,
                                        forced=forced, evidence=encode_json(evidence)))
        conn.execute(t.model_aliases.delete().where(t.model_aliases.c.model_id == model_id,
                                                    t.model_aliases.c.alias == alias))
        conn.execute(t.model_aliases.insert().values(model_id=model_id, alias=alias, version_id=candidate.id))
        self._audit(conn, actor, "alias.force" if forced else "alias.move",
                    f"{names.model_uri(candidate.model, candidate.project)}@{alias}", model_id,
                    before={"version": holder.version if holder else None},
                    after={"version": candidate.version, "forced": forced, "evidence": evidence},
                    reason=reason, at=now)
        return AliasMove(candidate.model, alias, holder.version if holder else None, candidate.version,
                         actor, now, reason, forced, evidence, candidate.project)

    def _facts(self, conn: Connection, policy: policies.Policy, candidate: ModelVersion,
               holder: ModelVersion | None, alias: str) -> policies.Facts:
        ap = t.approvals
        approvers = list(conn.execute(select(ap.c.actor).where(ap.c.version_id == candidate.id, ap.c.alias == alias)
                                      .order_by(ap.c.at, ap.c.id)).scalars())
        metrics = dict(candidate.metrics)
        evaluation_runs: list[str] = []
        if policy.evaluation_dataset:
            evaluation_runs, measured = self._evaluations(conn, candidate, policy.evaluation_dataset)
            metrics.update(measured)  # what was measured on the named data set is the evidence
        return policies.Facts(candidate=candidate.version, metrics=metrics,
                              holder=holder.version if holder else None,
                              holder_metrics=dict(holder.metrics) if holder else {},
                              approvers=approvers, evaluation_runs=evaluation_runs)

    def _evaluations(self, conn: Connection, version: ModelVersion, dataset: str) -> tuple[list[str], dict[str, float]]:
        """Evaluation runs that read this version's model and a version of ``dataset``; the newest's metrics."""
        io, av, a, r = t.run_io, t.artifact_versions, t.artifacts, t.runs
        read_model = select(io.c.run_id).where(io.c.artifact_version_id == version.artifact_version_id,
                                               io.c.direction == "input")
        read_data = (select(io.c.run_id).join(av, av.c.id == io.c.artifact_version_id)
                     .join(a, a.c.id == av.c.artifact_id).where(a.c.uri == dataset, io.c.direction == "input"))
        rows = conn.execute(select(r.c.id, r.c.uuid).where(r.c.phase == "evaluation", r.c.id.in_(read_model),
                                                           r.c.id.in_(read_data))
                            .order_by(r.c.started_at)).all()
        if not rows:
            return [], {}
        lm = t.latest_metrics
        measured = {k: (float("nan") if nan or v is None else v) for k, v, nan in conn.execute(
            select(lm.c.key, lm.c.value, lm.c.is_nan).where(lm.c.run_id == rows[-1].id))}
        return [row.uuid for row in rows], measured

    def alias_history(self: "SqlStore", name: str, alias: str | None = None,
                      project: str | None = None) -> list[AliasMove]:
        """Every move of the model's aliases (or one alias), oldest first."""
        ref = names.model_ref(name, project)
        am, mv = t.alias_moves, t.model_versions
        with self._read() as conn:
            model = self._model_row(conn, ref)
            numbers = dict(conn.execute(select(mv.c.id, mv.c.version).where(mv.c.model_id == model.id)).all())
            query = select(am).where(am.c.model_id == model.id).order_by(am.c.at, am.c.id)
            if alias is not None:
                query = query.where(am.c.alias == names.alias_name(alias))
            return [AliasMove(model.name, r.alias, numbers.get(r.from_version_id), numbers.get(r.to_version_id),
                              r.actor, r.at, r.reason, bool(r.forced), json.loads(r.evidence), model.project)
                    for r in conn.execute(query)]

    # -- the audit log -----------------------------------------------------------
    def audit_events(self: "SqlStore", subject: str | None = None, limit: int | None = 1000) -> list[AuditEvent]:
        """Audit events, oldest first; ``subject`` (a model, or a version or alias of it: the
        model is what counts) keeps those about one model, its versions, aliases and deployments."""
        ae = t.audit_events
        query = select(ae).order_by(ae.c.id)
        if limit is not None:
            query = query.limit(limit)
        with self._read() as conn:
            if subject is not None:
                query = query.where(ae.c.model_id == self._model_row(conn, names.parse(subject).model).id)
            return [_event(r) for r in conn.execute(query)]

    def verify_audit(self: "SqlStore") -> ChainCheck:
        """Walk the chain in order; the first event whose link or hash does not hold is named."""
        ae = t.audit_events
        prev = audit.GENESIS
        checked = 0
        last_id = 0
        with self._read() as conn:
            while True:
                rows = conn.execute(select(ae.c.id, ae.c.at, ae.c.actor, ae.c.action, ae.c.subject, ae.c.before,
                                           ae.c.after, ae.c.reason, ae.c.prev_hash, ae.c.hash)
                                    .where(ae.c.id > last_id).order_by(ae.c.id).limit(_CHAIN_BATCH)).all()
                if not rows:
                    return ChainCheck(checked)
                for row in rows:
                    if row.prev_hash != prev:
                        return ChainCheck(checked, row.id, f"audit event {row.id} does not follow the event "
                                          "before it (an event before it was deleted or edited)")
                    expected = audit.link_hash(row.prev_hash, row.at, row.actor, row.action, row.subject,
                                               row.before, row.after, row.reason)
                    if expected != row.hash:
                        return ChainCheck(checked, row.id, f"audit event {row.id} ({row.action} {row.subject}) "
                                          "was edited: its content does not match its hash")
                    prev = row.hash
                    checked += 1
                last_id = rows[-1].id

    def iter_audit(self: "SqlStore", batch: int = _CHAIN_BATCH) -> Iterator[AuditEvent]:
        ae = t.audit_events
        last_id = 0
        while True:
            with self._read() as conn:
                rows = conn.execute(select(ae).where(ae.c.id > last_id).order_by(ae.c.id).limit(batch)).all()
            if not rows:
                return
            for row in rows:
                yield _event(row)
            last_id = rows[-1].id


class _Made(NamedTuple):
    """What a registration wrote: its model (and the model's project), the artifact version,
    and the new version (its number and id), or the version that had this content already."""
    model_id: int
    project: str
    version_id: int
    number: int | None
    existing: int | None
    new_id: int | None


_insert_audit = t.audit_events.insert()
_insert_model_version = t.model_versions.insert().returning(t.model_versions.c.id)


def _version_numbers(model: Any, version: Any) -> tuple[Any, Any]:
    """The newest version number of the model ``model`` and the id of its version of the
    artifact version ``version`` (if any): two index lookups, whatever the number of versions."""
    mv = t.model_versions
    return (select(mv.c.version).where(mv.c.model_id == model).order_by(mv.c.version.desc()).limit(1)
            .scalar_subquery(),
            select(mv.c.id).where(mv.c.model_id == model, mv.c.artifact_version_id == version).scalar_subquery())


# With the audit chain's end (under the lock, only this transaction appends to it).
_numbers = select(*_version_numbers(bindparam("model"), bindparam("version")),
                  RegistryStore._chain_end.scalar_subquery())
# A version made from a run keeps the data versions the run read (its identity).
_insert_inputs = t.model_version_inputs.insert().from_select(
    ["model_version_id", "artifact_version_id"],
    select(bindparam("version", type_=t.model_versions.c.id.type), t.run_io.c.artifact_version_id).distinct()
    .where(t.run_io.c.run_id == bindparam("run"), t.run_io.c.direction == "input"))


@functools.cache
def _register_statement():
    """PostgreSQL: a registration in one statement, run under the registry's lock (taken by the
    statement before, so this one's snapshot sees every version committed before): the model
    found (of the project given, else of the run's project, else of the one project holding the
    name), the artifact and its version inserted unless there, the version numbers read, the new
    version inserted unless this content has one, the run's output edge and the data versions
    it read kept with the new version; with the audit chain's end. No row when the model is
    not found or the artifact version is not (see ``_register_at_once``)."""
    from sqlalchemy.dialects.postgresql import insert

    m, p, a, av, mv, io = (t.registered_models, t.projects, t.artifacts, t.artifact_versions, t.model_versions,
                           t.run_io)
    project, run, now = (bindparam("project", type_=p.c.name.type), bindparam("run", type_=mv.c.run_id.type),
                         bindparam("now", type_=mv.c.created_at.type))
    uri, content_hash = bindparam("uri", type_=a.c.uri.type), bindparam("hash", type_=av.c.content_hash.type)
    run_project = select(t.runs.c.project_id).where(t.runs.c.id == run).scalar_subquery()
    holders = (select(m.c.id, p.c.name.label("project")).join(p, p.c.id == m.c.project_id)
               .where(m.c.name == bindparam("name", type_=m.c.name.type),
                      or_(p.c.name == project, and_(project.is_(None), or_(run.is_(None), p.c.id == run_project))))
               .cte("holders"))
    model = select(holders).where(select(func.count()).select_from(holders).scalar_subquery() == 1).cte("model")
    new_artifact = (insert(a).from_select(["uri", "kind", "created_at"],
                                          select(uri, bindparam("kind", type_=a.c.kind.type), now))
                    .on_conflict_do_nothing().returning(a.c.id).cte("new_artifact"))
    artifact = union_all(select(new_artifact.c.id), select(a.c.id).where(a.c.uri == uri)).cte("artifact")
    new_version = (insert(av).from_select(
        ["artifact_id", "content_hash", "size", "metadata", "fingerprint_method", "created_at"],
        select(artifact.c.id, content_hash, bindparam("size", type_=av.c.size.type),
               bindparam("metadata", type_=av.c.metadata.type),
               bindparam("method", type_=av.c.fingerprint_method.type), now))
        .on_conflict_do_nothing().returning(av.c.id).cte("new_version"))
    version = union_all(select(new_version.c.id),
                        select(av.c.id).join(artifact, artifact.c.id == av.c.artifact_id)
                        .where(av.c.content_hash == content_hash)).cte("version")
    newest, existing = _version_numbers(model.c.id, version.c.id)
    numbers = (select(newest.label("newest"), existing.label("existing"))
               .select_from(model.join(version, true())).cte("numbers"))
    new_mv = (insert(mv).from_select(
        ["model_id", "version", "run_id", "artifact_version_id", "description", "created_by", "created_at"],
        select(model.c.id, func.coalesce(numbers.c.newest, 0) + 1, run, version.c.id,
               bindparam("description", type_=mv.c.description.type),
               bindparam("actor", type_=mv.c.created_by.type), now)
        .select_from(model.join(version, true()).join(numbers, true())).where(numbers.c.existing.is_(None)))
        .returning(mv.c.id, mv.c.version, mv.c.run_id, mv.c.artifact_version_id).cte("new_version_row"))
    output = (insert(io).from_select(
        ["run_id", "artifact_version_id", "direction", "name", "created_at"],
        select(new_mv.c.run_id, new_mv.c.artifact_version_id, literal("output"), literal("model"), now)
        .where(new_mv.c.run_id.is_not(None)))
        .on_conflict_do_nothing().cte("output"))
    inputs = (insert(t.model_version_inputs).from_select(
        ["model_version_id", "artifact_version_id"],
        select(new_mv.c.id, io.c.artifact_version_id).distinct().select_from(new_mv)
        .join(io, io.c.run_id == run).where(io.c.direction == "input"))
        .cte("inputs"))
    return (select(model.c.id.label("model_id"), model.c.project, version.c.id.label("version_id"),
                   numbers.c.existing, new_mv.c.version.label("number"), new_mv.c.id.label("new_id"),
                   RegistryStore._chain_end.scalar_subquery().label("chain_end"))
            .select_from(model.join(version, true()).join(numbers, true()).outerjoin(new_mv, true()))
            .add_cte(output, inputs))


@applier(MODEL_REGISTERED)
def _apply_registrations(store: "SqlStore", conn: Connection, events: Sequence[Event]) -> list[str]:
    """Versions registered from inside tracked tasks, in the batch's transaction. One that
    comes before its run waits for it like the run's other events; applied twice, it finds
    the version it made (one content, one version)."""
    ready, _ = ready_for_registry(store, conn, events)
    for event in ready:
        data = event.data
        ref = names.model_ref(data["model"])
        store._register(conn, ref.name, ArtifactVersion(**data["version"]),
                        data.get("actor") or "unknown", event.subject, None, ref.project)
    return []


def ready_for_registry(store: "SqlStore", conn: Connection, events: Sequence[Event]
                       ) -> tuple[list[Event], dict[str, int]]:
    """The registry events of a batch whose run (their subject) is in the store, and the runs'
    keys; the others are parked until their run arrives. With some ready, the registry's lock
    is taken (PostgreSQL; SQLite's write transaction is the lock already)."""
    runs = dict(conn.execute(select(t.runs.c.uuid, t.runs.c.id)
                             .where(t.runs.c.uuid.in_({e.subject for e in events}))).all())
    waiting = [e for e in events if e.subject not in runs]
    if waiting:
        now = time.time()
        conn.execute(t.parked_events.insert(), [
            {"waits_for": e.subject, "event": encode_json(e.to_json()), "definitions": "{}", "created_at": now}
            for e in waiting])
    ready = [e for e in events if e.subject in runs]
    if ready and store.dialect == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(_LOCK_KEY)))
    return ready, runs


def _project(project: str | None) -> str | None:
    return None if project is None else validation.name("project", project)


def _as_ref(ref: str | names.ModelRef) -> names.ModelRef:
    return ref if isinstance(ref, names.ModelRef) else names.parse(ref)


def _event(r: Any) -> AuditEvent:
    return AuditEvent(id=r.id, at=r.at, actor=r.actor, action=r.action, subject=r.subject,
                      before=_decode(r.before), after=_decode(r.after), reason=r.reason,
                      prev_hash=r.prev_hash, hash=r.hash)


def _model_fields(row: Any) -> dict[str, Any]:
    return {"description": row["description"], "owner": row["owner"],
            "tags": json.loads(row["tags"]) if isinstance(row["tags"], str) else row["tags"],
            "card": json.loads(row["card"]) if isinstance(row["card"], str) else row["card"]}


def _card(card: dict[str, Any] | None) -> dict[str, str]:
    card = dict(card or {})
    unknown = set(card) - set(CARD_FIELDS)
    if unknown:
        raise ValidationError("model card field", sorted(unknown), f"must be one of {', '.join(CARD_FIELDS)}")
    return {k: str(v) for k, v in card.items() if v is not None}


def _iso(at: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="seconds")
