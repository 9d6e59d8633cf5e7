"""An optional base-class mixin: declare ModelDB settings on a task, reach its run.

Nothing requires it: tracking works for every ``luigi.Task`` once ``track()``
is on, and the attributes below are read from any task that has them. The
mixin only documents them and adds ``modeldb_run`` for logging from ``run()``::

    class Train(TrackedTask, luigi.Task):
        modeldb_phase = "training"

        def run(self):
            ...
            self.modeldb_run.log_metric("auc", auc)   # or modeldb_core.log_metric("auc", auc)
"""
from __future__ import annotations

from typing import Any


class TrackedTask:
    #: The lifecycle phase of the task's runs (a phase name), or None.
    modeldb_phase: str | None = None
    #: The project the task's runs go to (default: the build's, else the configured one).
    modeldb_project: str | None = None
    #: False leaves the task untracked.
    modeldb_track: bool = True

    @property
    def modeldb_run(self) -> Any:
        """The run recording this execution (None outside ``run()`` or when untracked)."""
        from .handlers import _open

        return _open.get(getattr(self, "task_id", None))
