"""What a Prefect task run read and returned, as params and artifact versions.

Parameters follow the core rule of ``@tracked_task``: artifact-like values
(existing paths, arrays, DataFrames, bytes) become input artifact versions and
a short reference as the param; everything else is a param.

A result is recorded as output artifact versions: an artifact-like result
(or each artifact-like item of a returned tuple, list or dict) is fingerprinted
as in the core. A result with nothing artifact-like in it (a number, a dict of
scores, a fitted model) is still fingerprinted as one ``value:`` version, so
that the task run that consumes it is linked to the one that produced it:
plain data by the hash of its canonical JSON, other objects by the hash of
their pickle.
"""
from __future__ import annotations

from typing import Any, Mapping

from modeldb_core import fingerprint as fp
from modeldb_core import validation
from modeldb_core.model import ArtifactVersion

# A pickled result above this size is not hashed: the cost would be felt per task.


def state_value(state: Any) -> Any:
    """The value a Prefect state carries (a result or an exception), without fetching it again."""
    data = getattr(state, "data", None)
    # A ResultRecord keeps the in-memory value in ``.result``; the task engine reads it the same way.
    if type(data).__name__ == "ResultRecord" and hasattr(data, "result"):
        return data.result
    return data


def resolved(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters with Prefect futures replaced by their (already final) results."""
    from prefect.futures import PrefectFuture, resolve_futures_to_results

    if not any(isinstance(v, (PrefectFuture, list, tuple, dict, set)) for v in parameters.values()):
        return dict(parameters)
    return dict(resolve_futures_to_results(dict(parameters)))


def split_parameters(parameters: Mapping[str, Any]) -> tuple[dict[str, Any], list[tuple[str, Any]]]:
    """``(params, artifact inputs)``: artifact-like arguments are inputs, with a reference as param."""
    params: dict[str, Any] = {}
    inputs: list[tuple[str, Any]] = []
    for name, value in parameters.items():
        if fp.is_artifact(value):
            inputs.append((name, value))
        else:
            params[name] = value
    return params, inputs


def result_versions(value: Any) -> list[tuple[str, ArtifactVersion]]:
    """``(name, version)`` for each output a task result stands for (see the module docstring)."""
    if value is None or isinstance(value, BaseException):
        return []
    if fp.is_artifact(value):
        return [("return", fp.fingerprint(value))]
    items: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        items = [(f"return.{k}", v) for k, v in value.items() if isinstance(k, str)]
    elif isinstance(value, (tuple, list)) and len(value) <= 100:
        items = [(f"return[{i}]", v) for i, v in enumerate(value)]
    found = [(name[:validation.MAX_KEY], fp.fingerprint(v)) for name, v in items if fp.is_artifact(v)]
    if found:
        return found
    whole = fp.value_version(value)
    return [("return", whole)] if whole is not None else []
