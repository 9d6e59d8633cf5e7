"""Which lifecycle phase a run is in: the one rule of every integration.

The first of these that names a phase:

1. what the orchestrator's task says for itself: Luigi's ``modeldb_phase``
   (parameter or attribute) or a ``phase`` parameter naming a phase, Airflow's
   ``modeldb_phase`` DAG param, Prefect's ``track(phases={task: ...})``;
2. the function's own ``@tracked_task(phase=...)``;
3. the pipeline's default: an Airflow DAG tag ``phase:<phase>``, Luigi's
   ``track(default_phase=...)``, Prefect's ``track(phase=...)``;
4. the words of the task's name (``prepare_data`` → ``data_prep``, ``train_model``
   → ``training``, ``evaluate`` → ``evaluation``...), for orchestrator tasks only:
   a plain tracked function has a phase only when it is given one.

A phase that is not one of ``model.Phase`` is a ``ValidationError`` naming it
where it was given directly; from an orchestrator's setting it is logged and the
next rule applies (a typo must not cost the task its run).
"""
from __future__ import annotations

import re
from typing import Any

from . import validation
from .safety import report
from .task import tracked

_WORDS = [
    ("data_prep", ("prep", "prepare", "clean", "ingest", "extract", "load", "split", "etl", "data")),
    ("feature_engineering", ("feature", "features", "featurize", "transform", "encode", "embed")),
    ("training", ("train", "fit", "tune", "training")),
    ("evaluation", ("eval", "evaluate", "evaluation", "score", "validate", "test", "metrics")),
    ("deployment", ("deploy", "serve", "publish", "register", "release", "promote")),
    ("monitoring", ("monitor", "monitoring", "drift", "alert")),
]

_NOT_WORD = re.compile(r"[^a-z0-9]+")


def guessed(name: str) -> str | None:
    """The phase the words of a task's name suggest, if any."""
    words = set(_NOT_WORD.split(name.lower()))
    for phase, hints in _WORDS:
        if words & set(hints):
            return phase
    return None


def _checked(value: Any, where: str) -> str | None:
    if value is None or value == "":
        return None
    try:
        return validation.phase(value)
    except Exception as exc:  # noqa: BLE001 - reported, then the next rule applies
        report(f"use the phase given by {where}", exc)
        return None


def phase_for(name: str, *, task: Any = None, function: Any = None, pipeline: Any = None) -> str | None:
    """The phase of an orchestrator task named ``name`` (see the module rule): ``task`` is
    what the task says for itself, ``function`` the ``@tracked_task`` function it calls
    (or its phase), ``pipeline`` the pipeline's default."""
    if callable(function):  # a plain, untracked function says nothing about its phase
        own = tracked(function)
        function = own.phase if own is not None else None
    return (_checked(task, f"task {name}")
            or _checked(function, f"function of {name}")
            or _checked(pipeline, f"the pipeline of {name}")
            or guessed(name))
