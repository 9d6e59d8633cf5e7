"""What a tracked call needs to be executed again: its recipe, captured as it runs.

The code version, environment, params and input fingerprints are recorded for every
run already; the recipe adds what re-executing it needs on top (journaled as
``recipe`` events, one per part, through the tracking runtime):

- ``entry``: the importable ``module:qualname`` of a ``@tracked_task`` function, how
  each argument is re-created (from its param, from an input, as a declared output),
  the working directory, and the input snapshots;
- ``randomness``: the global generators (``random``, numpy's) a call drew from, and
  whether a seed was recorded (a run without one is ``unseeded``);
- ``sklearn``: written by scikit-learn logging (``sklearn/recorder.py``);
- ``flow``: on each task run of a tracked Prefect flow, the flow's importable name and
  its parameters (``integrations/prefect/reproduction.py``): ``modeldb reproduce --flow``.

Input snapshots (``snapshot_inputs=True``, or inputs up to ``snapshot_max_bytes``):
the bytes of an input file (or a pickled in-memory input) are copied into the
content-addressed artifact store, so the run can be reproduced after the file
changed. Everything else here is cheap (a few dict entries per call); the one
probe of randomness is a comparison of the generators' states before and after.
"""
from __future__ import annotations

import os
import pathlib
import random
import sys
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from .redaction import is_secret_key

if TYPE_CHECKING:
    from .artifact_store import ArtifactStore
    from .model import ArtifactVersion

ENTRY = "entry"
RANDOMNESS = "randomness"
SKLEARN = "sklearn"
FLOW = "flow"  # on each task run of a tracked Prefect flow: how to call the whole flow again
# Params that hold a seed: recorded, the run's randomness is reproducible.
SEED_PARAMS = ("seed_everything", "seed", "random_state", "random_seed")
_PLAIN = (type(None), bool, int, float, str)


def entry_point(fn: Any) -> str | None:
    """``module:qualname`` of a function importable by that name (None for a closure or a lambda)."""
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None)
    if not module or not qualname or "<" in qualname:
        return None
    return f"{module}:{qualname}"


def _value_type(value: Any) -> str:
    if isinstance(value, pathlib.PurePath):
        return "path"
    if isinstance(value, str):
        return "str"
    return "value"


def arguments(call_arguments: Mapping[str, Any], input_names: Iterable[str],
              output_names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """How each argument of a call is re-created: ``param`` (its recorded value, ``exact``
    when that value is its JSON form), ``input`` (the input of that name, verified by
    hash), ``output`` (a path the call writes, redirected when reproduced), ``secret``."""
    inputs, outputs = set(input_names), set(output_names)
    found: dict[str, dict[str, Any]] = {}
    for name, value in call_arguments.items():
        if name in outputs:
            found[name] = {"from": "output", "type": _value_type(value)}
            if isinstance(value, (str, pathlib.PurePath)) and os.path.isdir(value):
                found[name]["directory"] = True  # a folder the call writes into
        elif name in inputs:
            found[name] = {"from": "input", "type": _value_type(value)}
        elif is_secret_key(name) and value is not None:
            found[name] = {"from": "secret"}
        else:
            kind = type(value)
            exact = kind in _PLAIN or (kind in (list, dict) and len(value) <= 100)
            found[name] = {"from": "param", "exact": exact, **({"type": "tuple"} if kind is tuple else {})}
            if kind is tuple:
                found[name]["exact"] = len(value) <= 100
    return found


def entry(target: str, args: dict[str, dict[str, Any]], snapshots: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {"kind": "python", "target": target, "arguments": args, "cwd": os.getcwd()}
    if snapshots:
        data["snapshots"] = snapshots
    return data


# -- input snapshots -------------------------------------------------------------------------
def snapshot(value: Any, version: "ArtifactVersion", cap: int | None, store: "ArtifactStore") -> str | None:
    """Copy the bytes of one input into the artifact store; its blob's hash, or None when the
    input is over ``cap`` bytes (None: no cap) or is not a regular file or an in-memory value."""
    uri = version.uri
    if uri.startswith("value:"):
        if cap is not None and (version.size or 0) > cap:
            return None
        import pickle

        blob = store.put_bytes(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL),
                               {"format": "pickle", "snapshot_of": version.content_hash})
        return blob.content_hash
    path = uri[len("file://"):] if uri.startswith("file://") else uri
    if "://" in path or not os.path.isfile(path):
        return None
    size = os.path.getsize(path)
    if cap is not None and size > cap:
        return None
    if version.fingerprint_method == "full" and version.content_hash.startswith("sha256:") \
            and store.exists(version.content_hash):
        return version.content_hash  # the same bytes are stored already
    with open(path, "rb") as source:
        blob = store.put_stream(lambda sink: _copy(source, sink), {"format": "snapshot", "uri": uri})
    return blob.content_hash


def _copy(source: Any, sink: Any) -> None:
    chunk = bytearray(4 << 20)
    view = memoryview(chunk)
    while True:
        n = source.readinto(chunk)
        if not n:
            return
        sink.write(view[:n])


# -- randomness ------------------------------------------------------------------------------
class RandomnessProbe:
    """Whether a call drew from the global generators of ``random`` and numpy."""

    __slots__ = ("_python", "_numpy")

    def __init__(self) -> None:
        self._python = random.getstate()
        self._numpy = _numpy_position()

    def used(self) -> list[str]:
        found = []
        if random.getstate() != self._python:
            found.append("random")
        if _numpy_position() != self._numpy:
            found.append("numpy")
        return found


def _numpy_position() -> tuple[Any, ...] | None:
    numpy = sys.modules.get("numpy")
    if numpy is None:
        return None
    try:
        _, keys, position, *_ = numpy.random.get_state(legacy=True)
        return position, int(keys[0]), int(keys[-1])
    except Exception:  # noqa: BLE001 - a numpy without the legacy generator
        return None


def seed_of(params: Mapping[str, Any]) -> tuple[str, Any] | None:
    """The param that seeded a run's randomness, if any."""
    for key in SEED_PARAMS:
        if params.get(key) is not None:
            return key, params[key]
    return None


def randomness(used: list[str], params: Mapping[str, Any]) -> dict[str, Any]:
    seed = seed_of(params)
    return {"used": used, "seeded": seed is not None, "unseeded": seed is None,
            **({"seed_param": seed[0]} if seed else {})}


class Reproducing:
    """Set on the tracking client of a process that re-executes a run (``modeldb reproduce``):
    the first top-level run it starts takes ``run_id`` and is linked to ``original``."""

    def __init__(self, original: str, run_id: str):
        self.original = original
        self.run_id = run_id
        self.claimed = False

    def claim(self) -> str | None:
        if self.claimed:
            return None
        self.claimed = True
        return self.run_id
