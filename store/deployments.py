"""Deployments in the SQL store: which model version serves where, since and until when.

Part of the registry: every change takes the registry's lock (``_registry_write``)
and appends its audit event to the same hash chain in the same transaction. Under
the lock, recording a deployment reads what serves in the environment and ends
what it replaces, so concurrent recorders leave one version serving all the traffic
of a model in an environment (canaries, with a traffic share, serve beside it).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, select
from sqlalchemy.engine import Connection

from modeldb_core.errors import NotFoundError, ValidationError
from modeldb_core.events import DEPLOYMENT_RECORDED, Event, is_uuid, uuid7
from modeldb_core.registry import deployment as rules
from modeldb_core.registry import names
from modeldb_core.registry.model import Deployment, ModelVersion

from . import schema as t
from .events import applier
from .registry import ready_for_registry

if TYPE_CHECKING:
    from .sql_store import SqlStore

logger = logging.getLogger("modeldb")
# Shares are floats: a sum of canaries like 0.1 + 0.2 + 0.7 must not be refused for 1e-16.
_SHARE_SLACK = 1e-9


class DeploymentStore:
    """The deployment methods of ``SqlStore`` (declared in ``MetadataStore``)."""

    # -- writes ------------------------------------------------------------------
    def record_deployment(self: SqlStore, ref: str | names.ModelRef | None, environment: str, actor: str,
                          endpoint: str | None = None, traffic: float | None = None,
                          reason: str | None = None, run: str | int | None = None) -> Deployment:
        """Deploy the version ``ref`` names now (an alias is resolved now and the version kept) to
        ``environment``. Without ``traffic`` it takes all the traffic: what served the model there
        with no share ends. With a share it is a canary beside it. Without ``ref``, the registered
        version ``run`` read is deployed. The same version, endpoint and share already serving is
        returned unchanged."""
        environment = rules.environment(environment)
        endpoint = rules.endpoint(endpoint)
        traffic = rules.traffic(traffic)
        reason = rules.reason(reason)
        if ref is None and run is None:
            raise ValidationError("model", None, "is needed (a models:/ URI) unless a run that read a "
                                                 "registered model version is given")
        parsed = None if ref is None else (ref if isinstance(ref, names.ModelRef) else names.parse(ref))

        def work(conn: Connection) -> Deployment:
            run_key = self._run_key(conn, run) if run is not None else None
            version = self._resolve(conn, parsed, detail=False) if parsed is not None \
                else self._version_read_by(conn, run_key)
            return self._deploy(conn, version, str(parsed) if parsed is not None else version.uri,
                                environment, endpoint, traffic, reason, actor, run_key)
        return self._registry_write(work)

    def _version_read_by(self: SqlStore, conn: Connection, run_key: int) -> ModelVersion:
        io, mv, av = t.run_io, t.model_versions, t.artifact_versions
        # By content: a copy of the registered file, read from another path, is that version too.
        read = (select(av.c.content_hash).join(io, io.c.artifact_version_id == av.c.id)
                .where(io.c.run_id == run_key, io.c.direction == "input"))
        ids = list(conn.execute(select(mv.c.id).join(av, av.c.id == mv.c.artifact_version_id)
                                .where(av.c.content_hash.in_(read)).distinct().order_by(mv.c.id)).scalars())
        found = self._versions(conn, mv.c.id.in_(ids), detail=False) if ids else []
        if len(found) != 1:
            shown = ", ".join(v.uri for v in found) or "none"
            raise ValidationError("model", None, f"is needed: the run read {len(found)} registered model "
                                                 f"versions ({shown}), name the one to deploy")
        return found[0]

    def _deploy(self: SqlStore, conn: Connection, version: ModelVersion, requested: str, environment: str,
                endpoint: str | None, traffic: float | None, reason: str | None, actor: str,
                run_key: int | None, since: float | None = None, public_id: str | None = None) -> Deployment:
        d, mv = t.deployments, t.model_versions
        model_id = version.model_id
        # One statement: what serves the model there now, with the version numbers the audit names.
        serving = conn.execute(select(d, mv.c.version).join(mv, mv.c.id == d.c.version_id)
                               .where(d.c.model_id == model_id, d.c.environment == environment,
                                      d.c.until.is_(None)).order_by(d.c.since, d.c.id)).all()
        for row in serving:
            if row.version_id == version.id and row.traffic == traffic and row.endpoint == endpoint:
                return self._deployments(conn, d.c.id == row.id)[0]
        # A full deployment replaces the one that had all the traffic; either replaces the same
        # version's own earlier record (a canary made full, or a share changed).
        replaced = [r for r in serving if r.version_id == version.id or (traffic is None and r.traffic is None)]
        if traffic is not None:
            others = sum(r.traffic for r in serving if r.traffic is not None and r not in replaced)
            if others + traffic > 1.0 + _SHARE_SLACK:
                raise ValidationError("traffic", traffic, f"the canaries of {version.model} in {environment} "
                                      f"already take {others:g} of the traffic; with this one they would take "
                                      f"{others + traffic:g}, more than 1")
        now = time.time() if since is None else since
        public_id = public_id or uuid7()
        # Recorded through the tracking runtime, it may arrive after a deployment that replaced it:
        # then it is kept as history, ended when that one began, and ends nothing itself.
        later = [r for r in replaced if r.since > now]
        if later:
            replaced, first = [], min(later, key=lambda r: r.since)
        new_id = conn.execute(d.insert().values(
            uuid=public_id, model_id=model_id, version_id=version.id, environment=environment, endpoint=endpoint,
            state=rules.DEPLOYED, traffic=traffic, since=now, until=None, actor=actor, reason=reason,
            requested=requested, run_id=run_key, state_changed_at=now).returning(d.c.id)).scalar_one()
        if later:
            conn.execute(d.update().where(d.c.id == new_id).values(
                until=first.since, state=rules.RETIRED, state_reason=f"replaced by deployment {first.id}"))
        for row in replaced:
            until = max(now, row.since)
            conn.execute(d.update().where(d.c.id == row.id).values(
                until=until, state=rules.RETIRED, state_reason=f"replaced by deployment {new_id}",
                state_changed_at=now))
            self._audit(conn, actor, "deployment.end", f"{names.model_uri(version.model, version.project)}/"
                        f"{row.version}", model_id,
                        before={"deployment": row.id, "environment": environment, "state": row.state,
                                "until": None},
                        after={"deployment": row.id, "state": rules.RETIRED, "until": until,
                               "replaced_by": new_id}, reason=reason, at=now)
        if run_key is not None:
            # The run that deployed the version read it: the model is an input of that run.
            conn.execute(self._insert_io, {"run_id": run_key, "artifact_version_id": version.artifact_version_id,
                                           "direction": "input", "name": "model", "created_at": now})
        run_uuid = _run_uuid(conn, run_key)
        self._audit(conn, actor, "deployment.record", version.qualified_uri, model_id, after={
            "deployment": new_id, "environment": environment, "endpoint": endpoint, "traffic": traffic,
            "requested": requested, "run": run_uuid}, reason=reason, at=now)
        if later:
            return self._deployments(conn, d.c.id == new_id)[0]
        # Nothing to read back: what was written is the whole deployment.
        return Deployment(id=new_id, model=version.model, version=version.version, environment=environment,
                          state=rules.DEPLOYED, since=now, until=None, actor=actor, requested=requested,
                          uuid=public_id, endpoint=endpoint, traffic=traffic, reason=reason, run_id=run_uuid,
                          state_changed_at=now, project=version.project, model_id=model_id)

    def retire_deployment(self: SqlStore, target: int | str, actor: str, environment: str | None = None,
                          reason: str | None = None) -> list[Deployment]:
        """End deployments: one by its number, or every one serving the model (or the version)
        ``target`` names in ``environment``. Returns what was retired (NotFoundError: nothing served)."""
        reason = rules.reason(reason)
        number = _deployment_number(target)
        parsed = None
        if number is None:
            parsed = names.parse(target, "deployment")
            if environment is None:
                raise ValidationError("environment", None, f"is needed to retire {parsed} (or give a deployment's number)")
            environment = rules.environment(environment)

        def work(conn: Connection) -> list[Deployment]:
            d = t.deployments
            if number is not None:
                where = d.c.id == number
                if conn.execute(select(d.c.until).where(where)).first() is None:
                    raise NotFoundError("deployment", number)
            else:
                model = self._model_row(conn, parsed.model)
                where = and_(d.c.model_id == model.id, d.c.environment == environment, d.c.until.is_(None))
                if parsed.version is not None or parsed.alias is not None:
                    where = and_(where, d.c.version_id == self._resolve(conn, parsed, detail=False).id)
            found = [x for x in self._deployments(conn, where) if x.serving]
            if not found:
                what = f"deployment {number}" if number is not None else f"{parsed} in {environment}"
                raise NotFoundError("serving deployment", f"{what} (nothing of it serves now)")
            now = time.time()
            for dep in found:
                until = max(now, dep.since)
                conn.execute(d.update().where(d.c.id == dep.id).values(
                    until=until, state=rules.RETIRED, state_reason=reason, state_changed_at=now))
                self._audit(conn, actor, "deployment.retire", dep.qualified_uri, dep.model_id,
                            before={"deployment": dep.id, "environment": dep.environment, "state": dep.state,
                                    "until": None},
                            after={"deployment": dep.id, "state": rules.RETIRED, "until": until},
                            reason=reason, at=now)
            return self._deployments(conn, d.c.id.in_([x.id for x in found]))
        return self._registry_write(work)

    def mark_degraded(self: SqlStore, deployment: int | Deployment, reason: str | None, actor: str) -> Deployment:
        """Mark a serving deployment ``degraded`` (it still serves; monitoring found it wanting), audited.
        Marking one that is degraded already changes nothing."""
        return self._set_state(deployment, rules.DEGRADED, reason, actor)

    def restore_deployment(self: SqlStore, deployment: int | Deployment, reason: str | None,
                           actor: str) -> Deployment:
        """A degraded deployment back to ``deployed`` (audited)."""
        return self._set_state(deployment, rules.DEPLOYED, reason, actor)

    def _set_state(self: SqlStore, deployment: int | Deployment, state: str, reason: str | None,
                   actor: str) -> Deployment:
        number = deployment.id if isinstance(deployment, Deployment) else _deployment_number(deployment)
        if number is None:
            raise ValidationError("deployment", deployment, "must be a deployment's number")
        reason = rules.reason(reason)

        def work(conn: Connection) -> Deployment:
            d = t.deployments
            found = self._deployments(conn, d.c.id == number)
            if not found:
                raise NotFoundError("deployment", number)
            dep = found[0]
            if dep.state == state:
                return dep
            if not dep.serving:
                raise ValidationError("deployment", number, f"is {dep.state} since "
                                      f"{_iso(dep.until)}; only a serving deployment can become {state}")
            now = time.time()
            conn.execute(d.update().where(d.c.id == number).values(state=state, state_reason=reason,
                                                                   state_changed_at=now))
            self._audit(conn, actor, f"deployment.{'degrade' if state == rules.DEGRADED else 'restore'}",
                        dep.qualified_uri, dep.model_id,
                        before={"deployment": number, "environment": dep.environment, "state": dep.state},
                        after={"deployment": number, "state": state}, reason=reason, at=now)
            return self._deployments(conn, d.c.id == number)[0]
        return self._registry_write(work)

    # -- reads -------------------------------------------------------------------
    def get_deployment(self: SqlStore, number: int | str) -> Deployment:
        """A deployment by its number, or by its uuid (what ``ActiveRun.record_deployment`` answers)."""
        key = _deployment_number(number)
        if key is not None:
            where = t.deployments.c.id == key
        elif isinstance(number, str) and is_uuid(number.strip()):
            where = t.deployments.c.uuid == number.strip()
        else:
            raise ValidationError("deployment", number, "must be a deployment's number or uuid")
        with self._read() as conn:
            found = self._deployments(conn, where)
        if not found:
            raise NotFoundError("deployment", number)
        return found[0]

    def deployments(self: SqlStore, model: str | None = None, environment: str | None = None,
                    at: float | None = None, history: bool = False) -> list[Deployment]:
        """What serves now, or what served at ``at`` (since <= at < until); ``history``: every
        deployment ever recorded. ``model`` is a name, or a version (``models:/pricing/3``, or an
        alias, resolved at ``at``); oldest first, by environment."""
        d = t.deployments
        where: list[Any] = []
        if environment is not None:
            where.append(d.c.environment == rules.environment(environment))
        if not history:
            if at is None:
                where.append(d.c.until.is_(None))
            else:
                where.append(and_(d.c.since <= at, or_(d.c.until.is_(None), d.c.until > at)))
        with self._read() as conn:
            if model is not None:
                ref = names.parse(model)
                row = self._model_row(conn, ref.model)
                where.append(d.c.model_id == row.id)
                if ref.version is not None or ref.alias is not None:
                    where.append(d.c.version_id == self._resolve(conn, ref, at, detail=False).id)
            return self._deployments(conn, and_(*where) if where else None)

    def _deployments(self, conn: Connection, where: Any) -> list[Deployment]:
        d, m, mv, r, p = t.deployments, t.registered_models, t.model_versions, t.runs, t.projects
        query = (select(d, m.c.name, p.c.name.label("project"), mv.c.version, r.c.uuid.label("run_uuid"))
                 .join(m, m.c.id == d.c.model_id).join(p, p.c.id == m.c.project_id)
                 .join(mv, mv.c.id == d.c.version_id)
                 .outerjoin(r, r.c.id == d.c.run_id)
                 .order_by(d.c.environment, m.c.name, d.c.since, d.c.id))
        if where is not None:
            query = query.where(where)
        return [Deployment(id=x.id, model=x.name, version=x.version, environment=x.environment, state=x.state,
                           since=x.since, until=x.until, actor=x.actor, requested=x.requested, uuid=x.uuid,
                           endpoint=x.endpoint, traffic=x.traffic, reason=x.reason, run_id=x.run_uuid,
                           state_reason=x.state_reason, state_changed_at=x.state_changed_at,
                           project=x.project, model_id=x.model_id)
                for x in conn.execute(query)]


@applier(DEPLOYMENT_RECORDED)
def _apply_deployments(store: SqlStore, conn: Connection, events: Sequence[Event]) -> list[str]:
    """Deployments recorded from inside runs (``ActiveRun.record_deployment``), in the batch's
    transaction, oldest first. One that comes before its run waits for it; applied twice, it
    finds its row (by its client-made uuid). One that names no version (an unknown model, an
    alias unset at that time) is dropped with a warning: the run it came from goes on."""
    ready, runs = ready_for_registry(store, conn, events)
    d = t.deployments
    for event in sorted(ready, key=lambda e: (e.data.get("at") or 0, e.seq)):
        data = event.data
        if conn.execute(select(d.c.id).where(d.c.uuid == data["uuid"])).first() is not None:
            continue
        run_key = runs[event.subject]
        try:
            version = store._resolve(conn, names.parse(data["model"]), at=data["at"], detail=False) \
                if data.get("model") else store._version_read_by(conn, run_key)
            store._deploy(conn, version, data.get("model") or version.uri, data["environment"], data.get("endpoint"),
                          data.get("traffic"), data.get("reason"), data.get("actor") or "unknown", run_key,
                          since=data["at"], public_id=data["uuid"])
        except (NotFoundError, ValidationError) as exc:
            logger.warning("modeldb: the deployment run %s recorded (%s in %s) was not kept: %s",
                           event.subject, data.get("model") or "its model", data.get("environment"), exc)
    return []


def _run_uuid(conn: Connection, run_key: int | None) -> str | None:
    if run_key is None:
        return None
    return conn.execute(select(t.runs.c.uuid).where(t.runs.c.id == run_key)).scalar()


def _deployment_number(value: Any) -> int | None:
    """A deployment's number from an int or digits; None for anything else (a model reference)."""
    if isinstance(value, bool):
        raise ValidationError("deployment", value, "must be a deployment's number or a models:/ URI")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 19:
        number = int(value.strip())
    else:
        return None
    if not 0 < number < 2 ** 63:
        raise ValidationError("deployment", value, "must be a number from 1")
    return number


def _iso(at: float | None) -> str:
    from datetime import datetime, timezone

    return "?" if at is None else datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="seconds")
