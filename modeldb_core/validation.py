"""Checks at the boundary: every key, value and URI a user hands us.

Rules (documented in README):
- keys (params, metrics, tags): 1..250 characters, any Unicode except NUL and
  control characters, no leading/trailing whitespace;
- metric values: real numbers (int, float, numpy scalars); NaN and +/-inf are
  kept as they are; bool, str and None are refused;
- tag values: strings up to 5,000 characters, no NUL;
- notes: up to 65,536 characters, no NUL;
- URIs: a local path is made absolute (``..`` resolved) and becomes
  ``file://...``; a URI with a scheme may not contain ``..`` segments.
"""
from __future__ import annotations

import math
import numbers
import os
import re
from typing import Any

from .errors import ValidationError
from .model import Phase, RunStatus

MAX_KEY = 250
MAX_TAG_VALUE = 5000
MAX_NOTE = 65536
MAX_NAME = 500
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


MAX_ID = 2**63 - 1  # a 64-bit signed integer column
_HEX_ID = re.compile(r"(?=[0-9a-f-]{8,36}\Z)[0-9a-f]+(?:-[0-9a-f]+)*\Z")


def record_id(field: str, value: Any) -> int | str:
    """A run or artifact id as it reaches a boundary (URL, CLI argument): checked before the store.

    Either a whole number from 1 to 2**63 - 1 (ids so far), or a hex / UUID
    string of 8 to 36 characters (client-made ids), returned lowercased.
    """
    if isinstance(value, bool):
        raise ValidationError(field, value, "must be a run id")
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit() and text.isascii():
            if len(text) > 19:
                raise ValidationError(field, value, f"must be between 1 and {MAX_ID} (2**63 - 1)")
            number = int(text)
            if not 1 <= number <= MAX_ID:
                raise ValidationError(field, value, f"must be between 1 and {MAX_ID} (2**63 - 1)")
            return number
        if _HEX_ID.match(text.lower()):
            return text.lower()
        else:
            raise ValidationError(field, value, "must be a whole number or a hex/UUID id of 8 to 36 characters")
    if not isinstance(value, int):
        raise ValidationError(field, value, "must be a whole number or a hex/UUID id")
    if not 1 <= value <= MAX_ID:
        raise ValidationError(field, value, f"must be between 1 and {MAX_ID} (2**63 - 1)")
    return value


def key(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ValidationError(field, value, "must be a string")
    if not value:
        raise ValidationError(field, value, "must not be empty")
    if len(value) > MAX_KEY:
        raise ValidationError(field, value, f"is {len(value)} characters long; the limit is {MAX_KEY}")
    if _CONTROL.search(value):
        raise ValidationError(field, value, "must not contain NUL or control characters")
    if value != value.strip():
        raise ValidationError(field, value, "must not start or end with whitespace")
    return value


def is_valid_key(value: Any) -> bool:
    try:
        key("key", value)
    except ValidationError:
        return False
    return True


def name(field: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(field, value, "must be a non-empty string")
    if len(value) > MAX_NAME:
        raise ValidationError(field, value, f"is {len(value)} characters long; the limit is {MAX_NAME}")
    if "\x00" in value:
        raise ValidationError(field, value, "must not contain NUL")
    return value


def metric_value(field: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        # numpy scalars register as numbers.Real; anything else is refused.
        raise ValidationError(field, value, "must be a real number (int or float; NaN and inf are allowed)")
    return float(value)


def step(field: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValidationError(field, value, "must be a whole number")
    if value < 0 or value > 2**62:
        raise ValidationError(field, value, "must be between 0 and 2**62")
    return int(value)


def text(field: str, value: Any, limit: int) -> str:
    if not isinstance(value, str):
        raise ValidationError(field, value, "must be a string")
    if len(value) > limit:
        raise ValidationError(field, value, f"is {len(value)} characters long; the limit is {limit}")
    if "\x00" in value:
        raise ValidationError(field, value, "must not contain NUL")
    return value


def phase(value: Any) -> str | None:
    if value is None:
        return None
    raw = value.value if isinstance(value, Phase) else value
    allowed = [p.value for p in Phase]
    if raw not in allowed:
        raise ValidationError("phase", value, f"must be one of {', '.join(allowed)}")
    return raw


def status(value: Any) -> str:
    raw = value.value if isinstance(value, RunStatus) else value
    allowed = [s.value for s in RunStatus]
    if raw not in allowed:
        raise ValidationError("status", value, f"must be one of {', '.join(allowed)}")
    return raw


def uri(field: str, value: Any) -> str:
    """Normalise an artifact URI (see module docstring for the rule)."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value:
        raise ValidationError(field, value, "must be a non-empty string or path")
    if "\x00" in value:
        raise ValidationError(field, value, "must not contain NUL")
    if len(value) > 2000:
        raise ValidationError(field, value, "is longer than 2,000 characters")
    if _SCHEME.match(value):
        scheme, rest = value.split("://", 1)
        if scheme == "file":
            return "file://" + os.path.abspath(rest)
        if ".." in rest.split("/"):
            raise ValidationError(field, value, "must not contain '..' path segments")
        return value
    return "file://" + os.path.abspath(os.path.expanduser(value))


def finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None
