"""How a recorded value reads to a person: one rule for the CLI and the web UI.

A param, metric or tag value, a content hash, a time and a duration are shown
the same way in ``modeldb runs ...`` tables and on the web pages, so what one
says can be found in the other. JSON answers keep the values themselves (a
number stays a number); these functions make text.

Imports nothing beyond the standard library: the CLI and the core use it.
"""
from __future__ import annotations

import dataclasses
import json
import math
from datetime import datetime, timezone
from typing import Any

# Hex digits of a content hash shown wherever a hash is shown; ``lineage`` takes them back.
HASH_LENGTH = 12


def non_finite(value: float) -> str:
    """The name of NaN or an infinity, as JSON answers spell it too (``"NaN"``, ``"Infinity"``)."""
    return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")


def short_hash(content_hash: str | None, length: int = HASH_LENGTH) -> str:
    """The hex digits after the method (``sha256:``), ``HASH_LENGTH`` of them."""
    if not content_hash:
        return ""
    return content_hash.split(":")[-1][:length]


def text(value: Any) -> str:
    """One value as text: booleans lower case, whole floats without ``.0``, others to 6
    significant digits, lists and dicts as JSON, nothing as an empty string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not math.isfinite(value):
            return non_finite(value)
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.6g}"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(plain(value), ensure_ascii=False, default=str, allow_nan=False)
    return str(value)


def plain(value: Any) -> Any:
    """What JSON can hold, recursively: dataclasses as dicts, NaN and infinities as their names."""
    if isinstance(value, float) and not math.isfinite(value):
        return non_finite(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [plain(v) for v in value]
    return value


def timestamp(value: float | str | None) -> str:
    """A POSIX time (or an ISO 8601 one, as JSON answers carry it) in UTC to the second
    (``2026-12-02 08:55:00``); tables say UTC in their heading."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        return datetime.fromisoformat(value).astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    return datetime.fromtimestamp(value, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def iso(value: float | None) -> str | None:
    """A POSIX time for JSON: ISO 8601 with its time zone, so no reader has to guess it is UTC."""
    if value is None:
        return None
    return datetime.fromtimestamp(value, tz=timezone.utc).isoformat()


def duration(seconds: float | None) -> str:
    """A duration read at a glance: 85 ms, 4.2 s, 3 min 07 s, 2 h 05 min, 3 d 4 h."""
    if seconds is None:
        return ""
    if seconds != seconds or seconds < 0:
        return text(seconds)
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(round(seconds))
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s"


__all__ = ["HASH_LENGTH", "duration", "iso", "non_finite", "plain", "short_hash", "text", "timestamp"]
