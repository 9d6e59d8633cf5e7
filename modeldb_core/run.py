"""A run in progress, the Light API (``start_run``) and the current-run functions.

Logging calls validate their input at once (a bad key raises
``ValidationError`` naming it) and buffer what they log; the buffer is written
in one transaction when it grows large, every few seconds, and when the run
ends. A store that fails is reported once and never breaks the user's code.
"""
from __future__ import annotations

import contextvars
import sys
import threading
import time
import traceback
from typing import Any, Callable, Iterable, Mapping

from . import params as param_rule
from . import validation
from .client import TrackingClient, get_client
from .errors import ParamConflictError, StoreError
from .fingerprint import fingerprint
from .model import ArtifactVersion, Metric, NewRun, RunStatus, RunUpdate
from .safety import report, safe_call

FLUSH_METRICS = 1000
FLUSH_SECONDS = 5.0
# While the store is unreachable, keep at most this many metrics to retry with.
MAX_PENDING_METRICS = 200_000

_current: contextvars.ContextVar["ActiveRun | None"] = contextvars.ContextVar("modeldb_run", default=None)
_checked_keys: set[str] = set()


def _metric_key(key: Any) -> str:
    # Checking a key costs a regex; a 2,000-step series checks it once.
    if key.__class__ is str and key in _checked_keys:
        return key
    validation.key("metrics key", key)
    if len(_checked_keys) < 10_000:
        _checked_keys.add(key)
    return key


def mark_end(pending: RunUpdate, status: str, error: BaseException | None, message: str | None) -> None:
    """Record in ``pending`` how a run ended: status, time, and the error (type, message, traceback)."""
    pending.status = status
    pending.ended_at = time.time()
    if error is not None:
        pending.error_type = f"{type(error).__module__}.{type(error).__qualname__}".removeprefix("builtins.")
        pending.error_message = str(error)[:10_000]
        pending.error_traceback = "".join(
            traceback.format_exception(type(error), error, error.__traceback__))[-50_000:]
    elif message:
        pending.error_message = message


class ActiveRun:
    """A run this process is recording. ``id`` is ``None`` if the store could not be reached."""

    def __init__(self, client: TrackingClient, run_id: int | None, name: str, project: str,
                 pipeline_run_id: int | None = None, params: Mapping[str, Any] | None = None):
        self.client = client
        self.id = run_id
        self.name = name
        self.project = project
        self.pipeline_run_id = pipeline_run_id
        self.status: str = RunStatus.RUNNING.value
        self._params: dict[str, Any] = dict(params or {})
        self._steps: dict[str, int] = {}
        self._pending = RunUpdate()
        self._lock = threading.Lock()
        self._last_flush = time.monotonic()
        self._token: contextvars.Token | None = None
        self._previous: list[contextvars.Token] = []

    def __repr__(self) -> str:
        return f"<ActiveRun id={self.id} name={self.name!r} status={self.status}>"

    @property
    def ended(self) -> bool:
        return self.status != RunStatus.RUNNING.value

    # -- logging ----------------------------------------------------------
    def log_param(self, key: str, value: Any) -> None:
        self.log_params({key: value})

    def log_params(self, values: Mapping[str, Any]) -> None:
        fresh = {}
        for key, value in values.items():
            validation.key("params key", key)
            normalized = param_rule.normalize(value)
            if key in self._params:
                if not param_rule.same(self._params[key], normalized):
                    raise ParamConflictError(key, self._params[key], normalized)
                continue
            fresh[key] = normalized
        with self._lock:
            self._params.update(fresh)
            self._pending.params.update(fresh)

    def log_metric(self, key: str, value: float, step: int | None = None,
                   timestamp: float | None = None) -> None:
        _metric_key(key)
        number = validation.metric_value(f"metrics.{key}", value)
        with self._lock:
            if step is None:
                step = self._steps.get(key, -1) + 1
            else:
                step = validation.step(f"metrics.{key} step", step)
            self._steps[key] = max(step, self._steps.get(key, -1))
            self._pending.metrics.append(Metric(key, number, step, timestamp or time.time()))
            due = (len(self._pending.metrics) >= FLUSH_METRICS
                   or time.monotonic() - self._last_flush > FLUSH_SECONDS)
        if due:
            self.flush()

    def log_metrics(self, values: Mapping[str, float], step: int | None = None) -> None:
        for key, value in values.items():
            self.log_metric(key, value, step=step)

    def set_tag(self, key: str, value: Any) -> None:
        self.set_tags({key: value})

    def set_tags(self, values: Mapping[str, Any]) -> None:
        checked = {validation.key("tags key", k): validation.text(f"tags.{k}", str(v), validation.MAX_TAG_VALUE)
                   for k, v in values.items()}
        with self._lock:
            self._pending.tags.update(checked)

    def add_note(self, text: str) -> None:
        validation.text("note", text, validation.MAX_NOTE)
        with self._lock:
            self._pending.notes.append(text)

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
        with self._lock:
            (self._pending.inputs if direction == "input" else self._pending.outputs).append((name, version))
        return version

    @property
    def params(self) -> dict[str, Any]:
        return dict(self._params)

    # -- writing ------------------------------------------------------------
    def flush(self, heartbeat: bool = False) -> None:
        """Write what is buffered now (one transaction). Never raises store errors."""
        with self._lock:
            pending, self._pending = self._pending, RunUpdate()
            self._last_flush = time.monotonic()
        if heartbeat:
            pending.heartbeat_at = time.time()
        if self.id is None or pending.is_empty():
            return
        try:
            self.client.store.update_run(self.id, pending)
        except ParamConflictError as exc:  # another process logged it first: nothing to retry
            report("log a param", exc)
        except (KeyboardInterrupt, SystemExit):
            self._requeue(pending)
            raise
        except Exception as exc:  # noqa: BLE001 - tracking never breaks user code
            report(f"write run {self.id}", exc)
            if isinstance(exc, StoreError):
                self._requeue(pending)

    def _requeue(self, pending: RunUpdate) -> None:
        """Keep what failed to be written for the next flush (bounded)."""
        with self._lock:
            later = self._pending
            if len(pending.metrics) + len(later.metrics) > MAX_PENDING_METRICS:
                return
            pending.params.update(later.params)
            pending.metrics.extend(later.metrics)
            pending.tags.update(later.tags)
            pending.notes.extend(later.notes)
            pending.inputs.extend(later.inputs)
            pending.outputs.extend(later.outputs)
            pending.heartbeat_at = None
            if later.status:
                pending.status, pending.ended_at = later.status, later.ended_at
                pending.error_type, pending.error_message = later.error_type, later.error_message
                pending.error_traceback = later.error_traceback
            self._pending = pending

    def end(self, status: str | RunStatus = RunStatus.SUCCEEDED, error: BaseException | None = None,
            message: str | None = None) -> None:
        """Finish the run with ``status``; ``error`` is the exception that ended it, if any."""
        status = validation.status(status)
        if self.ended:
            return
        self.status = status
        with self._lock:
            mark_end(self._pending, status, error, message)
        self.flush()
        self.client.unregister(self)

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


def _parent(parent: ActiveRun | int | None | bool) -> tuple[ActiveRun | None, int | None]:
    if parent is True:
        parent = _current.get()
    if isinstance(parent, ActiveRun):
        return parent, parent.id
    if isinstance(parent, int) and not isinstance(parent, bool):
        return None, parent
    return None, None


def start_run(name: str | None = None, *, project: str | None = None, phase: str | None = None,
              params: Mapping[str, Any] | None = None, tags: Mapping[str, Any] | None = None,
              parent: ActiveRun | int | None | bool = True, pipeline_run_id: int | None = None,
              orchestrator: str | None = None, external_id: str | None = None,
              try_number: int | None = None, code: Callable[..., Any] | str | None = None,
              inputs: Iterable[Any] = (), started_at: float | None = None,
              client: TrackingClient | None = None, defer: bool = False, batch: bool = False) -> ActiveRun:
    """Start recording a run; use it as ``with start_run(...) as run:`` or call ``run.end()``.

    ``parent=True`` nests under the current run (if any); pass a run, a run id,
    or ``None`` for a top-level run. ``code`` is the function or source file
    whose code version is recorded (default: the calling file).
    ``defer=True`` writes a quick run once, when it ends (see ``deferred.py``):
    what orchestrator integrations use for their many short tasks; with
    ``batch=True`` as well, quick runs share transactions
    (written within a quarter second, or at ``modeldb_core.flush()``).
    """
    client = client or get_client()
    name = validation.name("run name", name or "run")
    phase = validation.phase(phase)
    checked_params = {validation.key("params key", k): param_rule.normalize(v) for k, v in (params or {}).items()}
    checked_tags = {validation.key("tags key", k): validation.text(f"tags.{k}", str(v), validation.MAX_TAG_VALUE)
                    for k, v in (tags or {}).items()}
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

    def spec() -> NewRun:
        prun = pipeline_run_id
        if prun is None:
            prun = parent_run.pipeline_run_id if parent_run else client.script_pipeline_run(project).id
        return NewRun(project=project, name=name, phase=phase, started_at=started_at or time.time(),
                      pipeline_run_id=prun, parent_run_id=parent_id, orchestrator=orchestrator or "python",
                      external_id=external_id, try_number=try_number, user=client.user, host=client.host,
                      pid=client.pid, code_version_id=client.code_version_id(function, source),
                      environment_id=client.environment_id(), params=checked_params, tags=checked_tags)

    def create() -> ActiveRun:
        new = spec()
        if defer:
            from .deferred import DeferredRun

            return DeferredRun(client, new, batch=batch)
        run = ActiveRun(client, client.store.create_run(new), name, project, new.pipeline_run_id, checked_params)
        client.register(run)
        return run

    run = safe_call("start a run", create)
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
