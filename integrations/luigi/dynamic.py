"""Dynamic dependencies: the requirements a task's ``run()`` yields.

Luigi gives them no event and no place in ``input()``: the worker calls
``task.run()``, and when that is a generator, every value it yields is a
requirement (tasks, nested in lists or dicts, or a ``DynamicRequirements``);
when one of them is not complete yet, Luigi drops the generator (the task is
*suspended*), runs the requirements, and later runs the task again from the
start. So, at ``START``, when ``run`` is a generator function, the task
instance's ``run`` is wrapped (on this instance only, removed when the task
ends) by a generator that passes everything through unchanged and notes what
was yielded; and a generator closed while it waited at a ``yield`` is a
suspension. A plain ``run`` is left alone (its tracebacks stay the user's own).
"""
from __future__ import annotations

import functools
import inspect
import types
from typing import Any, Callable, Iterator

from modeldb_core.safety import safe_call

from . import targets

_yielded: dict[str, list[Any]] = {}  # task id -> the requirement structures run() yielded


def watch(task: Any, on_suspended: Callable[[Any], None]) -> None:
    """Wrap this execution's ``task.run`` to note what it yields and whether it was suspended."""
    forget(task)
    original = task.run
    if not inspect.isgeneratorfunction(original):
        return

    @functools.wraps(original)
    def run(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if isinstance(result, types.GeneratorType):
            return _passed_through(result, task, on_suspended)
        return result

    run.modeldb_original = original  # type: ignore[attr-defined]
    task.run = run


def unwatch(task: Any) -> None:
    """Give the task instance back its own ``run`` (Luigi reuses instances across builds)."""
    current = vars(task).get("run")
    if current is not None and hasattr(current, "modeldb_original"):
        del task.run


def requirement_targets(task: Any) -> list[tuple[str | None, Any]]:
    """The output targets of every requirement ``task``'s run yielded, named like ``input()``'s."""
    found = []
    for struct in _yielded.get(task.task_id, ()):
        found += targets.requirement_targets(struct)
    return found


def forget(task: Any) -> None:
    """Drop what this execution yielded and give the instance its ``run`` back."""
    _yielded.pop(task.task_id, None)
    unwatch(task)


def _note(task: Any, item: Any) -> None:
    requirements = getattr(item, "requirements", item)  # a DynamicRequirements, or the structure itself
    _yielded.setdefault(task.task_id, []).append(requirements)


def _passed_through(gen: types.GeneratorType, task: Any, on_suspended: Callable[[Any], None]) -> Iterator[Any]:
    """``yield from gen``, noting each yielded value; ``GeneratorExit`` at a yield is a suspension."""
    send, value = gen.send, None
    while True:
        try:
            item = send(value)
        except StopIteration as stop:
            return stop.value
        safe_call("note a Luigi dynamic dependency", _note, task, item)
        try:
            value, send = (yield item), gen.send
        except GeneratorExit:
            try:
                gen.close()
            finally:
                safe_call("record a suspended Luigi task", on_suspended, task)
            raise
        except BaseException as exc:  # thrown in: the task's own generator decides
            value, send = exc, gen.throw
