"""Values as Prefect holds them: a state's value, parameters with futures resolved.

What parameters and results become (params, inputs, outputs) is the one rule of
every integration, ``modeldb_core.calls``; a task's result is handed over to the
tasks that consume it, so a result with nothing artifact-like in it is still one
``value:`` version, linking the consumer to its producer.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping


def state_value(state: Any) -> Any:
    """The value a Prefect state carries (a result or an exception), without fetching it again."""
    data = getattr(state, "data", None)
    # A ResultRecord keeps the in-memory value in ``.result``; the task engine reads it the same way.
    if type(data).__name__ == "ResultRecord" and hasattr(data, "result"):
        return data.result
    return data


def resolved(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters with Prefect futures replaced by their (already final) results,
    wherever Prefect itself finds them: in collections, dataclasses and pydantic models."""
    from prefect.futures import PrefectFuture, resolve_futures_to_results

    if not any(_may_hold_a_future(v, PrefectFuture) for v in parameters.values()):
        return dict(parameters)
    return dict(resolve_futures_to_results(dict(parameters)))


def _may_hold_a_future(value: Any, future_type: type) -> bool:
    return (isinstance(value, (future_type, list, tuple, dict, set))
            or (dataclasses.is_dataclass(value) and not isinstance(value, type))
            or hasattr(type(value), "model_fields"))
