"""``@tracked_task``: any Python function becomes a tracked run.

What a call records: its params, inputs and outputs by the one rule of every
integration (``calls.py``), status, timing, and the exception if it raised.
``inputs=`` / ``outputs=`` declare more: each item is either the name
of one of the function's parameters (its value is fingerprinted: for outputs,
after the call, so a file the function writes is hashed as written) or a
path / URI. ``register_model="name"`` registers the task's model output (the
output named ``model``, else of kind ``model``, else the last one) as the next
version of that model, through the tracking runtime like every other record.
"""
from __future__ import annotations

import functools
import inspect
import weakref
from typing import Any, Callable, Iterable, TypeVar, overload

from . import calls, recipe
from . import fingerprint as fp
from . import validation
from .client import get_client
from .model import ArtifactVersion, RunStatus
from .run import ActiveRun, active_run, start_run, status_for
from .safety import safe_call

F = TypeVar("F", bound=Callable[..., Any])
_SKIP = {"self", "cls"}


class _Call:
    """What one call of a tracked function hands to tracking."""

    def __init__(self, signature: inspect.Signature | None, args: tuple, kwargs: dict):
        self.arguments: dict[str, Any] = {}
        self.provided = False  # True when logging into a run an orchestrator started
        self.randomness: recipe.RandomnessProbe | None = None
        if signature is None:
            return
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError:
            return  # the call itself will raise its own TypeError
        bound.apply_defaults()
        for name, value in bound.arguments.items():
            kind = signature.parameters[name].kind
            if kind is inspect.Parameter.VAR_KEYWORD:
                self.arguments.update(value)
            elif name not in _SKIP:
                self.arguments[name] = value



def _declared(items: Iterable[Any] | None, call: _Call) -> list[tuple[str | None, Any]]:
    resolved = []
    for item in items or ():
        if isinstance(item, str) and item in call.arguments:
            resolved.append((item, call.arguments[item]))
        else:
            resolved.append((None, item))
    return resolved


def _record_return(run: ActiveRun, result: Any) -> list[tuple[str | None, ArtifactVersion]]:
    recorded = []
    for name, version in calls.outputs_of(result, handed_over=False):
        recorded.append((name, run.log_output(version, name=name)))
    return recorded


def _model_output(recorded: list[tuple[str | None, ArtifactVersion | None]]) -> ArtifactVersion | None:
    """The output a ``register_model`` task registers: the one named ``model``, else of kind
    ``model``, else the last one it wrote."""
    found = [(name, v) for name, v in recorded if v is not None]
    for name, version in found:
        if name == "model":
            return version
    for _, version in found:
        if version.kind == "model":
            return version
    return found[-1][1] if found else None


class TrackedFunction:
    """A ``@tracked_task`` function's settings (``phase``, ``tags``, ``project``, ``name``);
    starts and ends the run around each of its calls. ``tracked(fn)`` finds it."""

    def __init__(self, fn: Callable[..., Any], project: str | None, phase: str | None, name: str | None,
                 inputs: Iterable[Any] | None, outputs: Iterable[Any] | None, capture_return: bool,
                 tags: dict[str, Any] | None, sklearn_autolog: bool, register_model: str | None = None,
                 snapshot_inputs: bool = False):
        self.fn = fn
        self.entry_point = recipe.entry_point(fn)
        self.snapshot_inputs = bool(snapshot_inputs)
        self.register_model = None
        if register_model is not None:
            from .registry.names import model_name  # the registry's modules only where it is used

            self.register_model = model_name(register_model, "register_model")
        self.project = project
        self.phase = validation.phase(phase)
        self.name = validation.name("name", name or getattr(fn, "__qualname__", None) or repr(fn))
        self.inputs = list(inputs or ())
        self.outputs = list(outputs or ())
        self.capture_return = capture_return
        self.tags = tags
        self.sklearn_autolog = sklearn_autolog
        try:
            self.signature: inspect.Signature | None = inspect.signature(fn)
        except (TypeError, ValueError):
            self.signature = None

    def begin(self, args: tuple, kwargs: dict) -> tuple[ActiveRun, _Call] | None:
        client = get_client()
        if client.disabled:
            return None
        call = _Call(self.signature, args, kwargs)
        run = _provided_run(self.fn)
        with fp.call_budget():  # one fingerprint budget for everything this call reads
            if run is not None:
                # An orchestrator already records this very call (the Airflow listener
                # started the task instance's run, params included): log into it.
                call.provided = True
            else:
                params, inputs = calls.split_arguments(call.arguments)
                run = start_run(self.name, project=self.project, phase=self.phase, tags=self.tags,
                                params=params, code=self.fn, client=client)
                for name, version in inputs:
                    safe_call("record an input", run.log_input, version, name=name)
                safe_call("record how to run it again", self._record_entry, run, call, inputs, client)
            for name, item in _declared(self.inputs, call):
                safe_call("record a declared input", run.log_input, item, name=name)
        if self.phase == "training" or self.register_model is not None:
            safe_call("profile training data", _profile_inputs, run, call)
        if self.sklearn_autolog:
            safe_call("turn on scikit-learn logging", _sklearn_autolog)
        run.activate()
        call.randomness = safe_call("look at the random generators", recipe.RandomnessProbe)
        return run, call

    def _record_entry(self, run: ActiveRun, call: _Call, inputs: list[tuple[str, ArtifactVersion]],
                      client: Any) -> None:
        if self.entry_point is None:
            return
        outputs = [name for name, _ in _declared(self.outputs, call) if name is not None]
        args = recipe.arguments(call.arguments, [name for name, _ in inputs], outputs)
        snapshots: dict[str, str] = {}
        cap = client.settings.snapshot_max_bytes
        if inputs and (self.snapshot_inputs or cap):
            from .artifact_store import ArtifactStore

            store = ArtifactStore(client.settings.artifacts)
            for name, version in inputs:
                blob = safe_call("snapshot an input", recipe.snapshot, call.arguments.get(name), version,
                                 None if self.snapshot_inputs else cap, store)
                if blob is not None:
                    snapshots[name] = blob
        run.record_recipe(recipe.ENTRY, recipe.entry(self.entry_point, args, snapshots))

    def succeed(self, run: ActiveRun, call: _Call, result: Any) -> None:
        run.deactivate()
        if call.randomness is not None and not call.provided:
            used = safe_call("look at the random generators", call.randomness.used, default=[])
            if used:
                run.record_recipe(recipe.RANDOMNESS, recipe.randomness(used, run.params))
        recorded: list[tuple[str | None, ArtifactVersion | None]] = []
        if self.capture_return and not call.provided:
            # The orchestrator records the return value of a call it provided.
            recorded += safe_call("record the return value", _record_return, run, result, default=[])
        for name, item in _declared(self.outputs, call):
            recorded.append((name, safe_call("record a declared output", run.log_output, item, name=name)))
        if self.register_model is not None:
            safe_call("register the model", self._register, run, recorded)
        if call.provided:
            return  # the orchestrator ends its own run
        safe_call("end a run", run.end, RunStatus.SUCCEEDED)

    def _register(self, run: ActiveRun, recorded: list[tuple[str | None, ArtifactVersion | None]]) -> None:
        version = _model_output(recorded)
        if version is None:
            raise ValueError(f"register_model={self.register_model!r}: the task recorded no output to register")
        run.register_model(self.register_model, version)

    def fail(self, run: ActiveRun, exc: BaseException, call: _Call | None = None) -> None:
        run.deactivate()
        if call is not None and call.provided:
            return  # the orchestrator ends its own run with the error
        safe_call("record a failed run", run.end, status_for(exc), error=exc)


_tracked: "weakref.WeakKeyDictionary[Callable[..., Any], TrackedFunction]" = weakref.WeakKeyDictionary()


def callable_chain(fn: Any) -> tuple[Any, ...]:
    """``fn`` and every function it wraps (``functools.wraps`` keeps ``__wrapped__``)."""
    chain: list[Any] = []
    while fn is not None and fn not in chain and len(chain) < 20:
        chain.append(fn)
        fn = getattr(fn, "__wrapped__", None)
    return tuple(chain)


def tracked(fn: Any) -> TrackedFunction | None:
    """The ``@tracked_task`` settings of ``fn`` or of a function it wraps, if any (what an
    orchestrator integration reads to honour the function's phase and tags)."""
    for item in callable_chain(fn):
        try:
            found = _tracked.get(item)
        except TypeError:  # not weak-referenceable: never decorated here
            continue
        if found is not None:
            return found
    return None


def project_for(fn: Any, default: str | None = None) -> str | None:
    """The project of an orchestrator task's run whose callable is ``fn``: the function's
    ``@tracked_task(project=)`` (it logs into that run), else ``default`` (the pipeline's, or
    None: the configured one). The one rule of every integration, as ``phases.phase_for`` is."""
    declared = tracked(fn)
    return declared.project if declared is not None and declared.project else default


def _provided_run(fn: Callable[..., Any]) -> ActiveRun | None:
    """The current run, if an orchestrator started it for a call of ``fn``.

    An integration that starts a task's run itself (the Airflow listener, Prefect's
    task hooks) declares the callables it will call with ``run.provide_for(...)``;
    a tracked function among them then logs into that run instead of starting a
    second one.
    """
    run = active_run()
    if run is not None and run.provides(fn):
        return run
    return None


def _profile_inputs(run: ActiveRun, call: _Call) -> None:
    """Profile the DataFrame and array arguments of a training call (at most ``_PROFILED``):
    the reference its model's monitoring measures drift against."""
    from .monitoring.reference import is_profilable, record_profile

    profiled = 0
    for name, value in call.arguments.items():
        if profiled < _PROFILED and validation.is_valid_key(name) and is_profilable(value):
            safe_call("profile training data", record_profile, run, name, value)
            profiled += 1


_PROFILED = 4


def _sklearn_autolog() -> None:
    from .sklearn import autolog

    autolog()


@overload
def tracked_task(fn: F) -> F: ...


@overload
def tracked_task(*, project: str | None = ..., phase: str | None = ..., name: str | None = ...,
                 inputs: Iterable[Any] | None = ..., outputs: Iterable[Any] | None = ...,
                 capture_return: bool = ..., tags: dict[str, Any] | None = ...,
                 sklearn_autolog: bool = ..., register_model: str | None = ...,
                 snapshot_inputs: bool = ...) -> Callable[[F], F]: ...


def tracked_task(fn: F | None = None, *, project: str | None = None, phase: str | None = None,
                 name: str | None = None, inputs: Iterable[Any] | None = None,
                 outputs: Iterable[Any] | None = None, capture_return: bool = True,
                 tags: dict[str, Any] | None = None, sklearn_autolog: bool = False,
                 register_model: str | None = None, snapshot_inputs: bool = False):
    """Track every call of a function (sync or async) as a run. See the module docstring.

    ``snapshot_inputs=True`` copies the bytes of every input into the artifact store, so
    ``modeldb reproduce`` finds them even after the original files changed."""

    def decorate(func: F) -> F:
        tracker = TrackedFunction(func, project, phase, name, inputs, outputs, capture_return, tags,
                                  sklearn_autolog, register_model, snapshot_inputs)

        if inspect.iscoroutinefunction(func):
            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                started = safe_call("start a run", tracker.begin, args, kwargs)
                if started is None:
                    return await func(*args, **kwargs)
                run, call = started
                try:
                    result = await func(*args, **kwargs)
                except BaseException as exc:
                    tracker.fail(run, exc, call)
                    raise
                tracker.succeed(run, call, result)
                return result

            _tracked[async_wrapper] = tracker
            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = safe_call("start a run", tracker.begin, args, kwargs)
            if started is None:
                return func(*args, **kwargs)
            run, call = started
            try:
                result = func(*args, **kwargs)
            except BaseException as exc:
                tracker.fail(run, exc, call)
                raise
            tracker.succeed(run, call, result)
            return result

        _tracked[wrapper] = tracker
        return wrapper  # type: ignore[return-value]

    if fn is not None:
        return decorate(fn)
    return decorate
