"""What Luigi computed: a task's ``requires()`` and ``output()`` as Luigi last got them.

Tracking needs every task's requirements (its inputs, the pipeline's
structure) and outputs. Calling the user's methods for them again costs what
they cost (an ``output()`` that asks a bucket, a ``requires()`` that scans a
folder), so tracking reads what Luigi's own calls returned:

- ``install()`` puts a pass-through wrapper on the ``requires`` and ``output``
  of every task class (those defined so far, and each later one when its first
  instance is made). Luigi gets exactly what the method returned, every time;
  the value is noted per task instance (weakly). A one-shot iterable (a
  ``requires()`` written as a generator) is handed on item by item and noted
  once Luigi has walked it.
- A call made by ModelDB's Luigi integration (any module of this package)
  reads the noted value. When Luigi has not called the method yet (the
  pipeline's structure is read before Luigi schedules the tasks below the
  root), the integration calls it once and *lends* the value: Luigi's next
  call of that method on that task gets it instead of calling the user's code
  again, if it comes within ``LEND_SECONDS`` (Luigi schedules right after the
  structure is read; a value older than that is not handed out, the user's
  method is called as it would be untracked).

So a tracked build calls the user's methods as often as an untracked one
(tasks that are already complete are the exception: Luigi never asks for
their requirements, the pipeline's structure does, once per build).
``uninstall()`` puts the original methods back.
"""
from __future__ import annotations

import functools
import sys
import threading
import time
import weakref
from typing import Any, Callable

METHODS = ("requires", "output")
LEND_SECONDS = 60.0
_PACKAGE = __name__.rpartition(".")[0] + "."

_lock = threading.RLock()
_originals: dict[tuple[type, str], tuple[Any, Any]] = {}  # (class, name) -> (original, ours)
_classes: "weakref.WeakSet[type]" = weakref.WeakSet()
_register_call: Any = None
# method -> task -> what it returned last (one-shot iterables as the list of their items)
_seen: dict[str, "weakref.WeakKeyDictionary[Any, Any]"] = {m: weakref.WeakKeyDictionary() for m in METHODS}
# method -> task -> (monotonic time, value, was one-shot): a value tracking computed first
_lent: dict[str, "weakref.WeakKeyDictionary[Any, tuple]"] = {m: weakref.WeakKeyDictionary() for m in METHODS}


def _one_shot(value: Any) -> bool:
    """An iterator (generator, map, zip...): walking it consumes it."""
    if isinstance(value, (str, bytes, dict, list, tuple)) or value is None:
        return False
    try:
        return iter(value) is value
    except Exception:  # noqa: BLE001 - not iterable, or an __iter__ that fails: Luigi's to report
        return False


def _settle(value: Any, depth: int = 0) -> Any:
    """``value`` with every one-shot iterable nested in a dict, list or tuple made a list of its
    items: walking it (Luigi's flatten, then tracking) must not consume what the other one needs.
    Luigi treats a list and a generator alike (``flatten``, ``getpaths``)."""
    if depth > 50:
        return value
    if _one_shot(value):
        return [_settle(item, depth + 1) for item in value]
    if isinstance(value, dict):
        pairs = [(key, _settle(item, depth + 1)) for key, item in value.items()]
        if all(new is old for (_, new), old in zip(pairs, value.values())):
            return value
        try:
            return type(value)(pairs)
        except Exception:  # noqa: BLE001 - a mapping type that cannot be rebuilt from pairs
            return dict(pairs)
    if isinstance(value, (list, tuple)):
        items = [_settle(item, depth + 1) for item in value]
        if all(new is old for new, old in zip(items, value)):
            return value
        try:
            return type(value)(items)
        except Exception:  # noqa: BLE001 - a namedtuple: Luigi could not rebuild it either
            return items
    return value


def _note(method: str, task: Any, value: Any) -> None:
    try:
        with _lock:
            _seen[method][task] = value
    except TypeError:  # a task that cannot be weakly referenced or hashed: nothing noted
        pass


def _noting(method: str, task: Any, items: Any) -> Any:
    """Hand ``items`` on one by one; note them all once the consumer has walked to the end."""
    walked = []
    for item in items:
        item = _settle(item)
        walked.append(item)
        yield item
    _note(method, task, walked)


def _by_tracking(frame: Any) -> bool:
    name = frame.f_globals.get("__name__", "") if frame is not None else ""
    return isinstance(name, str) and name.startswith(_PACKAGE) and name != __name__


def _luigi_call(method: str, task: Any, original: Callable[..., Any]) -> Any:
    """Luigi's (or the user's) call: the user's method, or the value tracking lent for it."""
    lent = None
    with _lock:
        table = _lent[method]
        if len(table):
            try:
                lent = table.pop(task, None)
            except TypeError:
                lent = None
    if lent is not None:
        lent_at, value, one_shot = lent
        if time.monotonic() - lent_at <= LEND_SECONDS:
            _note(method, task, value)
            return (item for item in value) if one_shot else value
    value = original(task)
    if _one_shot(value):
        return _noting(method, task, value)
    value = _settle(value)
    _note(method, task, value)
    return value


def _tracking_read(method: str, task: Any, original: Callable[..., Any]) -> Any:
    """Tracking's read: what Luigi got last, else one call whose value Luigi gets next."""
    with _lock:
        try:
            if task in _seen[method]:
                return _seen[method][task]
        except TypeError:
            return original(task)
    value = original(task)
    one_shot = _one_shot(value)
    value = _settle(value)
    _note(method, task, value)
    with _lock:
        _lent[method][task] = (time.monotonic(), value, one_shot)
    return value


def _wrapper(method: str, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def observed(self: Any, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs:  # not the call Luigi makes: not ours to note
            return original(self, *args, **kwargs)
        if _by_tracking(sys._getframe(1)):
            return _tracking_read(method, self, original)
        return _luigi_call(method, self, original)

    observed.__modeldb_observed__ = True  # type: ignore[attr-defined]
    return observed


def _patch(cls: type) -> None:
    with _lock:
        if cls in _classes:
            return
        for method in METHODS:
            original = cls.__dict__.get(method)
            if (cls, method) in _originals or original is None or type(original).__name__ != "function" \
                    or getattr(original, "__modeldb_observed__", False):
                continue
            ours = _wrapper(method, original)
            try:
                setattr(cls, method, ours)
            except (TypeError, AttributeError):
                continue
            _originals[(cls, method)] = (original, ours)
        _classes.add(cls)


def install() -> None:
    """Observe ``requires`` / ``output`` of every Luigi task class (calling it again is harmless)."""
    global _register_call
    from luigi.task_register import Register

    with _lock:
        if _register_call is not None:
            return
        for cls in list(Register._reg):
            _patch(cls)
        original_call = Register.__dict__["__call__"]

        # A class's methods may be set after it is defined (luigi.util's @requires): its
        # first instance is the moment to look.
        @functools.wraps(original_call)
        def __call__(cls: type, *args: Any, **kwargs: Any) -> Any:
            if cls not in _classes:
                _patch(cls)
            return original_call(cls, *args, **kwargs)

        Register.__call__ = __call__  # type: ignore[method-assign]
        _register_call = (original_call, __call__)


def uninstall() -> None:
    """Put the original methods back and forget every noted value."""
    global _register_call
    from luigi.task_register import Register

    with _lock:
        if _register_call is not None:
            original_call, ours = _register_call
            if Register.__dict__.get("__call__") is ours:
                Register.__call__ = original_call  # type: ignore[method-assign]
            _register_call = None
        for (cls, method), (original, ours) in list(_originals.items()):
            if cls.__dict__.get(method) is ours:
                setattr(cls, method, original)
        _originals.clear()
        _classes.clear()
        for table in (*_seen.values(), *_lent.values()):
            table.clear()


def is_installed() -> bool:
    return _register_call is not None
