"""The config switch: Luigi's ``task_process_context`` turns tracking on.

With this in ``luigi.cfg`` (or ``LUIGI_CONFIG_PATH``)::

    [worker]
    task_process_context = modeldb_core.integrations.luigi.TrackingContext

Luigi builds one ``TrackingContext`` around every task execution, in the
process that runs the task, before the task's ``START``: its construction
calls ``track()``. From then on the process also sees the scheduling events
(complete tasks, dependencies); the very first build of a process that never
called ``track()`` itself is grouped by the worker that runs it. Luigi takes
one context class: if you already use one, call ``track()`` from it instead.
"""
from __future__ import annotations

from typing import Any


class TrackingContext:
    def __init__(self, task_process: Any = None):
        from modeldb_core.safety import safe_call

        from . import track

        safe_call("turn on Luigi tracking", track)
        self.task_process = task_process

    def __enter__(self) -> "TrackingContext":
        return self

    def __exit__(self, *exc: object) -> bool:
        return False  # the task's own exception goes on to Luigi unchanged
