"""Giving every task called inside a tracked flow run ModelDB's state hooks.

Prefect 3.9 has no global "every task run" hook: the task engine reads the
hooks of the ``Task`` object it runs. Every way a flow runs a task goes
through one of three public methods, ``Task.__call__``, ``Task.submit`` and
``Task.map``, so ``install()`` wraps those three once per process. The wrapper
asks one question, cheap enough for every call: is the current
``FlowRunContext`` a flow run that ModelDB tracks? If not (an untracked flow,
a task called outside any flow) the task runs exactly as before. If so, the
call runs on a copy of the task made with ``Task.with_options`` that adds
ModelDB's ``on_running`` / ``on_completion`` / ``on_failure`` hooks to the
task's own (and, for a task with retries, a ``retry_condition_fn`` that
observes each failed attempt and then answers exactly as the task's own
condition would). The copy is made once per task object and kept in a weak
map. The user's task objects are never modified.
"""
from __future__ import annotations

import functools
import threading
import weakref
from typing import Any

from modeldb_core.safety import safe_call

from . import flow_run, task_run

_copies: "weakref.WeakKeyDictionary[Any, Any]" = weakref.WeakKeyDictionary()
_copies_lock = threading.Lock()
_install_lock = threading.Lock()
_installed = False


def _tracked_flow_run() -> bool:
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    run = getattr(context, "flow_run", None) if context is not None else None
    return run is not None and flow_run.is_tracked(run.id)


def _with_hooks(task: Any) -> Any:
    copy = _copies.get(task)
    if copy is not None:
        return copy
    options: dict[str, Any] = {
        # ModelDB's run exists before the task's own hooks run, and ends after them.
        "on_running": [task_run.on_running, *task.on_running_hooks],
        "on_completion": [*task.on_completion_hooks, task_run.on_completion],
        "on_failure": [*task.on_failure_hooks, task_run.on_failure],
    }
    if task.retries:
        options["retry_condition_fn"] = task_run.observing_retries(task.retry_condition_fn)
    copy = task.with_options(**options)
    copy.__modeldb_hooked__ = True
    with _copies_lock:
        _copies[task] = copy
    return copy


def hooked(task: Any) -> Any:
    """``task`` itself, or its copy with ModelDB's hooks when a tracked flow run calls it."""
    if getattr(task, "__modeldb_hooked__", False) or not _tracked_flow_run():
        return task
    return safe_call("add ModelDB's hooks to a Prefect task", _with_hooks, task, default=task)


def _wrap(original: Any) -> Any:
    @functools.wraps(original)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        return original(hooked(self), *args, **kwargs)

    wrapper.__modeldb_original__ = original  # type: ignore[attr-defined]
    return wrapper


def install() -> None:
    """Wrap ``Task.__call__``, ``Task.submit`` and ``Task.map`` (once per process)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        from prefect.tasks import Task

        for method in ("__call__", "submit", "map"):
            original = getattr(Task, method)
            if getattr(original, "__modeldb_original__", None) is not None:
                continue

            wrapper = _wrap(original)
            setattr(Task, method, wrapper)
        _installed = True
