"""How values are laid out in rows: shared by the ordinary and the bulk write paths."""
from __future__ import annotations

import json
import math
from typing import Any, Sequence

from modeldb_core.model import Metric


# One encoder for the store's canonical JSON (``json.dumps`` with options builds an encoder
# for every call, a cost the writer paid for every recipe and param it stored).
encode_json = json.JSONEncoder(sort_keys=True, ensure_ascii=False, allow_nan=True, separators=(",", ":")).encode


def encode_param(value: Any) -> dict[str, Any]:
    """The three stored forms of a (JSON-able) param value."""
    as_json = encode_json(value)
    number = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            number = float(value) if math.isfinite(value) else None
        except OverflowError:  # an int beyond a double: kept exactly in value_json, not comparable as a number
            number = None
    return {"value_json": as_json, "value_text": value if isinstance(value, str) else as_json,
            "value_num": number}


def latest_of(metrics: Sequence[Metric]) -> dict[str, Metric]:
    """The last value of each key: highest step, then latest timestamp."""
    latest: dict[str, Metric] = {}
    for m in metrics:
        seen = latest.get(m.key)
        if seen is None or (m.step, m.timestamp) >= (seen.step, seen.timestamp):
            latest[m.key] = m
    return latest
