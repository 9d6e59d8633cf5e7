"""How any Python value becomes a param value (the one documented rule).

- ``None``, ``bool``, ``int``, ``float`` (NaN and inf included) and ``str`` are
  kept as they are; numpy scalars become the Python number.
- ``list``, ``tuple``, ``set`` (sorted) and ``dict`` with string keys are kept
  as JSON when every item follows this rule and the JSON is at most 10,000
  characters.
- ``pathlib`` paths become strings, enums their value, dates ISO 8601.
- Anything else becomes the string ``"<module.Type> repr"``, with memory
  addresses (`` at 0x7f...``) removed so the same value gives the same string
  in every process, cut to 500 characters. This never raises.
"""
from __future__ import annotations

import datetime as _dt
import enum
import json
import math
import os
import re
from typing import Any

MAX_JSON = 10_000
MAX_REPR = 500
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


class _NotPlain(Exception):
    pass


def _plain(value: Any, depth: int = 0) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if depth > 20:
        raise _NotPlain
    if isinstance(value, enum.Enum):
        return _plain(value.value, depth + 1)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_plain(v, depth + 1) for v in value]
    if isinstance(value, (set, frozenset)):
        items = [_plain(v, depth + 1) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True, default=str))
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise _NotPlain
        return {k: _plain(v, depth + 1) for k, v in value.items()}
    module = type(value).__module__
    if module == "numpy" and hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return _plain(value.item(), depth + 1)
    raise _NotPlain


def describe(value: Any) -> str:
    """``"<module.Type> repr"`` without memory addresses, at most 500 characters."""
    kind = type(value)
    try:
        shown = repr(value)
    except Exception:  # noqa: BLE001 - a broken __repr__ must not break tracking
        shown = "<repr failed>"
    text = f"<{kind.__module__}.{kind.__qualname__}> {_ADDRESS.sub('', shown)}"
    return text if len(text) <= MAX_REPR else text[:MAX_REPR - 3] + "..."


def normalize(value: Any) -> Any:
    """A JSON-able value for ``value`` following the module's rule."""
    try:
        plain = _plain(value)
    except _NotPlain:
        return describe(value)
    except Exception:  # noqa: BLE001
        return describe(value)
    if isinstance(plain, (list, dict)):
        if len(json.dumps(plain, allow_nan=True, default=str)) > MAX_JSON:
            return describe(value)
    return plain


def same(a: Any, b: Any) -> bool:
    """Equality of two normalized values, with NaN equal to NaN."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return json.dumps(a, sort_keys=True, allow_nan=True) == json.dumps(b, sort_keys=True, allow_nan=True)
