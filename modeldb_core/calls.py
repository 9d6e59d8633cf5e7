"""What a call's arguments and return value become: the one rule of every integration.

A call is a ``@tracked_task`` function called, an Airflow task, a Prefect task run.
Its bound arguments (defaults applied) and its return value become:

- **params**: every argument, by name. An artifact-like argument (an existing path,
  a file URI, an array, a DataFrame, bytes: ``fingerprint.is_artifact``) is
  represented by a short reference to its version; any other value by the param
  rule (``params.normalize``).
- **inputs**: each artifact-like argument, as the version of its content; each
  artifact-like item of a dict, list or tuple argument (named ``arg.key`` /
  ``arg[i]``). An argument *handed over* by an upstream task of the same pipeline
  (an Airflow XCom, a Prefect future's result) with nothing artifact-like in it
  is an input too, as the version of the value itself (``value:json``/``value:object``),
  so it is the same lineage node as the upstream task's output.
- **outputs**, from the return value, the same way: an artifact-like result is the
  output ``return``; the artifact-like items of a returned dict, list or tuple are
  ``return.key`` / ``return[i]``; a result with nothing artifact-like in it is an
  output only when it is handed over to downstream tasks (an orchestrator passes
  it on), as ``return``, the version of the value.

So a returned ``{"model": "/models/m.json"}`` is the file node ``return.model``
whichever of plain Python, Prefect or Airflow ran the function, and a downstream
task receiving that dict reads the same file node.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from . import fingerprint as fp
from . import params as param_rule
from . import validation
from .model import ArtifactVersion
from .redaction import NUMBERS
from .safety import safe_call

RETURN = "return"
# Items of a container beyond this many are not looked into (a list of a million floats).
MAX_ITEMS = 100

Named = list[tuple[str, ArtifactVersion]]


def _items(name: str, value: Any) -> list[tuple[str, Any]] | None:
    """The named items of a dict, list or tuple that may be artifacts (None for anything else
    or a long one; none of a list of numbers)."""
    if isinstance(value, dict) and len(value) <= MAX_ITEMS:
        return [(f"{name}.{k}", v) for k, v in value.items() if isinstance(k, str)]
    if isinstance(value, (list, tuple)) and len(value) <= MAX_ITEMS:
        if NUMBERS.issuperset(map(type, value)):  # numbers: no item is an artifact
            return []
        return [(f"{name}[{i}]", v) for i, v in enumerate(value)]
    return None


def _is_artifact(value: Any) -> bool:
    if type(value) in NUMBERS:  # a number is no artifact: no guarded call to find out
        return False
    return bool(safe_call("inspect a value", fp.is_artifact, value, default=False))


def versions_of(name: str, value: Any, handed_over: bool, artifact: bool | None = None) -> Named:
    """The artifact versions ``value`` stands for, under the rule above (``artifact``:
    whether ``value`` itself is artifact-like, when the caller already knows)."""
    if value is None or isinstance(value, BaseException):
        return []
    if artifact if artifact is not None else _is_artifact(value):
        version = safe_call("fingerprint a value", fp.fingerprint, value)
        return [(name[:validation.MAX_KEY], version)] if version is not None else []
    found: Named = []
    for item_name, item in _items(name, value) or ():
        if _is_artifact(item):
            version = safe_call("fingerprint a value", fp.fingerprint, item)
            if version is not None:
                found.append((item_name[:validation.MAX_KEY], version))
    if found or not handed_over:
        return found
    whole = safe_call("fingerprint a value", fp.value_version, value)
    return [(name[:validation.MAX_KEY], whole)] if whole is not None else []


def split_arguments(arguments: Mapping[str, Any], handed_over: Iterable[str] = ()
                    ) -> tuple[dict[str, Any], Named]:
    """``(params, inputs)`` of a call's bound arguments; ``handed_over`` names the
    arguments an upstream task of the same pipeline passed in."""
    passed = set(handed_over)
    params: dict[str, Any] = {}
    inputs: Named = []
    for name, value in arguments.items():
        if not validation.is_valid_key(name):
            continue
        artifact = _is_artifact(value)
        found = versions_of(name, value, name in passed, artifact)
        inputs += found
        if artifact:  # its reference, or what it was when it could not be fingerprinted
            params[name] = fp.reference(found[0][1]) if found else param_rule.describe(value)
        else:
            params[name] = value
    return params, inputs


def outputs_of(result: Any, handed_over: bool) -> Named:
    """The outputs a call's return value stands for; ``handed_over`` when an orchestrator
    passes it on to downstream tasks."""
    return versions_of(RETURN, result, handed_over)
