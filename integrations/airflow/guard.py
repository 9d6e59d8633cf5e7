"""The time bound on everything the listener does with the store.

Store work runs on one daemon thread per process; the hook waits for it at
most ``timeout`` seconds. If it does not finish in time the hook goes on
without it and tracking pauses in this process for ``cooldown`` seconds, so a
dead store costs a worker one timeout, not one per task. Errors are logged
once (``safe_call``) and never reach Airflow.
"""
from __future__ import annotations

import os
import queue
import threading
import time
from typing import Any, Callable

from modeldb_core.safety import report, safe_call


class StoreTimeout(Exception):
    """The store did not answer within the listener's time bound."""


class _Job:
    __slots__ = ("what", "fn", "args", "kwargs", "done", "result")

    def __init__(self, what: str, fn: Callable[..., Any], args: tuple, kwargs: dict):
        self.what, self.fn, self.args, self.kwargs = what, fn, args, kwargs
        self.done = threading.Event()
        self.result: Any = None


class Guard:
    def __init__(self) -> None:
        self.pid = os.getpid()
        self.paused_until = 0.0
        self._jobs: "queue.SimpleQueue[_Job]" = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def paused(self) -> bool:
        return time.monotonic() < self.paused_until

    def _worker(self) -> None:
        while True:
            job = self._jobs.get()
            job.result = safe_call(job.what, job.fn, *job.args, **job.kwargs)
            job.done.set()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._worker, name="modeldb-airflow-store",
                                                daemon=True)
                self._thread.start()

    def call(self, what: str, timeout: float, cooldown: float, fn: Callable[..., Any],
             *args: Any, default: Any = None, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` on the store thread, waited for at most ``timeout`` seconds."""
        if self.paused:
            return default
        self._start()
        job = _Job(what, fn, args, kwargs)
        self._jobs.put(job)
        if job.done.wait(timeout):
            return default if job.result is None else job.result
        self.paused_until = time.monotonic() + cooldown
        report(what, StoreTimeout(f"no answer within {timeout:g} s; tracking pauses in this process "
                                  f"for {cooldown:g} s"))
        return default


_guard: Guard | None = None


def guard() -> Guard:
    """This process's guard (a new one after a fork: threads do not survive it)."""
    global _guard
    if _guard is None or _guard.pid != os.getpid():
        _guard = Guard()
    return _guard


def reset() -> None:
    """Start over: a new store thread, tracking not paused (tests, reconfiguration)."""
    global _guard
    _guard = None
