"""A run in progress, the Light API (``start_run``) and the current-run functions.

Logging calls validate their input at once (a bad key raises
``ValidationError`` naming it) and record it as an event of the tracking
runtime (``runtime.py``): journaled on the caller's thread, written to the
store by the process's writer. Nothing here waits on the store.
"""
from __future__ import annotations

import contextvars
import sys
import time
from typing import Any, Callable, Iterable, Mapping

from . import events as ev
from . import params as param_rule
from . import redaction, validation
from .client import TrackingClient, get_client
from .errors import ParamConflictError
from .fingerprint import fingerprint
from .model import ArtifactVersion, RunStatus
from .runtime import _dict as version_dict
from .safety import report, safe_call

_current: contextvars.ContextVar["ActiveRun | None"] = contextvars.ContextVar("modeldb_run", default=None)


def ending(status: str, error: BaseException | None, message: str | None,
           ended_at: float | None = None) -> dict[str, Any]:
    """What an ``ended`` event says: status, time, and the error (type, message, traceback)."""
    data: dict[str, Any] = {"status": status, "ended_at": time.time() if ended_at is None else ended_at}
    if error is not None:
        data["error_type"], data["error_message"], data["error_traceback"] = redaction.describe_error(error)
    elif message:
        data["error_message"] = redaction.redact_text(message)
    return data


class ActiveRun:
    """A run this process is recording. ``id`` is its uuid (``None`` when tracking is off)."""

    def __init__(self, client: TrackingClient, run_id: str | None, name: str, project: str,
                 pipeline_run_id: str | None = None, params: Mapping[str, Any] | None = None):
        self.client = client
        self.id = run_id
        self.name = name
        self.project = project
        self.pipeline_run_id = pipeline_run_id
        self.status: str = RunStatus.RUNNING.value
        self._params: dict[str, Any] = dict(params or {})
        self._steps: dict[str, int] = {}
        self._emit = client.runtime.emit if run_id is not None else _ignore
        self._provided_for: tuple[Any, ...] = ()
        self._previous: list[contextvars.Token] = []

    def __repr__(self) -> str:
        return f"<ActiveRun id={self.id} name={self.name!r} status={self.status}>"

    @property
    def ended(self) -> bool:
        return self.status != RunStatus.RUNNING.value

    # -- the integration contract: an orchestrator's run that a tracked call logs into ----
    def provide_for(self, callables: Iterable[Any]) -> None:
        """Declare that this run (started by an orchestrator integration for one task) is the
        run of calls of ``callables``: a ``@tracked_task`` among them logs into it instead
        of starting a second run."""
        self._provided_for = tuple(callables)

    def provides(self, fn: Any) -> bool:
        return not self.ended and fn in self._provided_for

    # -- logging ----------------------------------------------------------
    def log_param(self, key: str, value: Any) -> None:
        self.log_params({key: value})

    def log_params(self, values: Mapping[str, Any]) -> None:
        fresh = {}
        for key, normalized in param_rule.normalize_items(values).items():
            if key in self._params:
                if not param_rule.same(self._params[key], normalized):
                    raise ParamConflictError(key, self._params[key], normalized)
                continue
            fresh[key] = normalized
        if fresh:
            self._params.update(fresh)
            self._emit(ev.PARAMS, self.id, fresh)

    def log_metric(self, key: str, value: float, step: int | None = None,
                   timestamp: float | None = None) -> None:
        key = validation.key("metrics key", key)
        number = validation.metric_value(f"metrics.{key}", value)
        if timestamp is not None:
            timestamp = validation.timestamp(f"metrics.{key} timestamp", timestamp)
        steps = self._steps
        if step is None:
            step = steps.get(key, -1) + 1
        else:
            step = validation.step(f"metrics.{key} step", step)
        if step > steps.get(key, -1):
            steps[key] = step
        self._emit(ev.METRIC, self.id, [key, number, step, time.time() if timestamp is None else timestamp])

    def log_metrics(self, values: Mapping[str, float], step: int | None = None) -> None:
        for key, value in values.items():
            self.log_metric(key, value, step=step)

    def set_tag(self, key: str, value: Any) -> None:
        self.set_tags({key: value})

    def set_tags(self, values: Mapping[str, Any]) -> None:
        checked = validation.tags(values)
        if checked:
            self._emit(ev.TAGS, self.id, checked)

    def add_note(self, text: str) -> None:
        text = validation.text("note", text, validation.MAX_NOTE)
        self._emit(ev.NOTE, self.id, {"text": text, "at": time.time()})

    def log_input(self, value: Any, name: str | None = None, kind: str | None = None,
                  uri: str | None = None) -> ArtifactVersion | None:
        """Record something this run read: a path, URI, array, DataFrame..."""
        return self._log_io("input", value, name, kind, uri)

    def log_output(self, value: Any, name: str | None = None, kind: str | None = None,
                   uri: str | None = None) -> ArtifactVersion | None:
        """Record something this run wrote: a path, URI, array, DataFrame..."""
        return self._log_io("output", value, name, kind, uri)

    def _log_io(self, direction: str, value: Any, name: str | None, kind: str | None,
                uri: str | None) -> ArtifactVersion | None:
        if name is not None:
            validation.key(f"{direction} name", name)
        if isinstance(value, ArtifactVersion):
            version = value
        else:
            version = fingerprint(value, uri=uri, kind=kind)
        self._emit(ev.IO, self.id, {"direction": direction, "name": name, "version": version_dict(version)})
        return version

    def register_model(self, name: str, version: ArtifactVersion) -> None:
        """Register ``version`` (an output of this run) as the next version of model ``name``,
        through the tracking runtime: the store applies it once the run is there."""
        from .registry import actor
        from .registry.names import model_name

        self._emit(ev.MODEL_REGISTERED, self.id, {"model": model_name(name), "version": version_dict(version),
                                                  "actor": actor(self.client.settings)})

    def record_deployment(self, model_ref: Any, environment: str, endpoint: str | None = None,
                          traffic: float | None = None, reason: str | None = None) -> str | None:
        """Record, through the tracking runtime, that ``model_ref`` (a ``models:/`` URI; None: the
        registered version this run read) serves in ``environment`` from now on, linked to this run.

        Nothing waits on the store and a store error never reaches the task: the store applies it
        (an alias resolved as it was now) once the run is there. Bad input raises at once. Returns
        the deployment's uuid (``store.get_deployment(uuid)``); ``mdb.record_deployment`` is the
        direct call that answers with the ``Deployment``.
        """
        from .registry import actor
        from .registry import deployment as rules
        from .registry.names import parse

        data = {"uuid": ev.uuid7(), "model": None if model_ref is None else str(parse(model_ref)),
                "environment": rules.environment(environment), "endpoint": rules.endpoint(endpoint),
                "traffic": rules.traffic(traffic), "reason": rules.reason(reason),
                "actor": actor(self.client.settings), "at": time.time()}
        if self.id is None:
            return None
        self._emit(ev.DEPLOYMENT_RECORDED, self.id, data)
        return data["uuid"]

    def record_recipe(self, part: str, data: dict[str, Any]) -> None:
        """Record one part of what re-executing this run needs (``recipe.py``)."""
        self._emit(ev.RECIPE, self.id, {"part": part, "data": data})

    @property
    def params(self) -> dict[str, Any]:
        return dict(self._params)

    def flush(self, heartbeat: bool = False) -> None:
        """Kept for callers of the earlier API: every call is journaled as it happens."""

    def detach(self) -> None:
        """Stop recording into this run here without ending it: another execution (a task
        an orchestrator suspends and runs again, maybe in another process) continues it."""
        if self.id is not None:
            self.client.runtime.closed(self)
        self.status = "detached"

    def end(self, status: str | RunStatus = RunStatus.SUCCEEDED, error: BaseException | None = None,
            message: str | None = None, ended_at: float | None = None, presumed: bool = False) -> None:
        """Finish the run with ``status``; ``error`` is the exception that ended it, if any.
        A ``presumed`` end (the process exits with the run open) gives way to any other end."""
        status = validation.status(status)
        if self.ended:
            return
        self.status = status
        self._emit(ev.ENDED, self.id, ending(status, error, message, ended_at), *((0,) if presumed else ()))
        if self.id is not None:
            self.client.runtime.closed(self)

    # -- the current run ----------------------------------------------------
    def activate(self) -> "ActiveRun":
        """Make this the current run of this context (what ``log_metric`` and friends use)."""
        self._previous.append(_current.set(self))
        return self

    def deactivate(self) -> None:
        if self._previous:
            token = self._previous.pop()
            try:
                _current.reset(token)
            except ValueError:  # reset from another context (a hook in another thread)
                _current.set(None)

    def __enter__(self) -> "ActiveRun":
        return self.activate()

    def __exit__(self, exc_type, exc, tb) -> None:
        self.deactivate()
        if exc is None:
            safe_call("end a run", self.end, RunStatus.SUCCEEDED)
        else:
            safe_call("end a run", self.end, status_for(exc), error=exc)


def _ignore(*_: Any) -> None:
    """What logging does when tracking is off."""


def status_for(exc: BaseException) -> str:
    """``killed`` for an interrupt or exit, ``failed`` for any other exception."""
    if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit)):
        return RunStatus.KILLED.value
    return RunStatus.FAILED.value


def active_run() -> ActiveRun | None:
    """The run the calling code is inside, if any."""
    return _current.get()


def _caller_file(depth: int) -> str | None:
    try:
        return sys._getframe(depth + 1).f_code.co_filename
    except ValueError:
        return None


def _parent(parent: ActiveRun | int | str | None | bool) -> tuple[ActiveRun | None, int | str | None]:
    if parent is True:
        parent = _current.get()
    if isinstance(parent, ActiveRun):
        return parent, parent.id
    if isinstance(parent, (int, str)) and not isinstance(parent, bool):
        return None, parent
    return None, None


def start_run(name: str | None = None, *, project: str | None = None, phase: str | None = None,
              params: Mapping[str, Any] | None = None, tags: Mapping[str, Any] | None = None,
              parent: ActiveRun | int | str | None | bool = True, pipeline_run_id: str | None = None,
              orchestrator: str | None = None, external_id: str | None = None,
              try_number: int | None = None, code: Callable[..., Any] | str | None = None,
              inputs: Iterable[Any] = (), started_at: float | None = None,
              client: TrackingClient | None = None, defer: bool = False, batch: bool = False,
              run_id: str | None = None) -> ActiveRun:
    """Start recording a run; use it as ``with start_run(...) as run:`` or call ``run.end()``.

    ``parent=True`` nests under the current run (if any); pass a run, a run id,
    or ``None`` for a top-level run. ``pipeline_run_id`` is the key returned by
    ``client.pipeline_run(...)`` (default: the script's own pipeline run).
    ``code`` is the function or source file whose code version is recorded
    (default: the calling file). The run's id (a UUIDv7) is made here, with no
    store round trip; an integration may give its own (``run_id``) so that
    several executions of one task continue one run. ``defer`` and ``batch`` are accepted for callers of the
    earlier API: every run is now journaled and written in batches.
    """
    client = client or get_client()
    name = validation.name("run name", name or "run")
    phase = validation.phase(phase)
    checked_params = param_rule.normalize_items(params or {})
    checked_tags = validation.tags(tags or {})
    started_at = validation.optional_timestamp("started_at", started_at)
    parent_run, parent_id = _parent(parent)
    project = validation.name("project", project or (parent_run.project if parent_run else client.settings.project))
    if client.seed is not None and "seed_everything" not in checked_params:
        checked_params["seed_everything"] = client.seed
    if client.disabled:
        return ActiveRun(client, None, name, project, params=checked_params)
    source = code if isinstance(code, str) else None
    function = code if callable(code) else None
    if function is None and source is None:
        source = _caller_file(1)

    def begin() -> ActiveRun:
        runtime = client.runtime
        prun = pipeline_run_id
        if prun is None:
            prun = parent_run.pipeline_run_id if parent_run else client.script_pipeline_run(project)
        reproduces = None
        if client.reproducing is not None and run_id is None and parent_id is None:
            claimed = client.reproducing.claim()
            reproduces = client.reproducing.original if claimed else None
        new_id = run_id or (claimed if reproduces else None) or ev.uuid7()
        runtime.emit(ev.STARTED, new_id, {
            "project": project, "name": name, "phase": phase, "started_at": time.time() if started_at is None else started_at,
            "pipeline_run": prun, "parent": parent_id, "orchestrator": orchestrator or "python",
            "external_id": external_id, "try_number": try_number, "user": client.user,
            "host": client.host, "pid": client.pid, "code": runtime.code_key(function, source),
            "env": "env", "params": checked_params, "tags": checked_tags})
        if reproduces:
            runtime.emit(ev.REPRODUCTION, new_id, {"original": reproduces, "at": time.time()})
        run = ActiveRun(client, new_id, name, project, prun, checked_params)
        runtime.opened(run)
        return run

    run = safe_call("start a run", begin)
    if run is None:
        run = ActiveRun(client, None, name, project, params=checked_params)
    for item in inputs:
        safe_call("record an input", run.log_input, item, raise_validation=True)
    return run


def _on_current(what: str) -> ActiveRun | None:
    run = _current.get()
    if run is None:
        report(what, RuntimeError("there is no active run; use @tracked_task or start_run()"))
    return run


def log_param(key: str, value: Any) -> None:
    if (run := _on_current("log a param")) is not None:
        run.log_param(key, value)


def log_params(values: Mapping[str, Any]) -> None:
    if (run := _on_current("log params")) is not None:
        run.log_params(values)


def log_metric(key: str, value: float, step: int | None = None, timestamp: float | None = None) -> None:
    if (run := _on_current("log a metric")) is not None:
        run.log_metric(key, value, step=step, timestamp=timestamp)


def log_metrics(values: Mapping[str, float], step: int | None = None) -> None:
    if (run := _on_current("log metrics")) is not None:
        run.log_metrics(values, step=step)


def set_tag(key: str, value: Any) -> None:
    if (run := _on_current("set a tag")) is not None:
        run.set_tag(key, value)


def set_tags(values: Mapping[str, Any]) -> None:
    if (run := _on_current("set tags")) is not None:
        run.set_tags(values)


def add_note(text: str) -> None:
    if (run := _on_current("add a note")) is not None:
        run.add_note(text)


def log_input(value: Any, name: str | None = None, kind: str | None = None, uri: str | None = None):
    if (run := _on_current("log an input")) is not None:
        return run.log_input(value, name=name, kind=kind, uri=uri)
    return None


def log_output(value: Any, name: str | None = None, kind: str | None = None, uri: str | None = None):
    if (run := _on_current("log an output")) is not None:
        return run.log_output(value, name=name, kind=kind, uri=uri)
    return None
