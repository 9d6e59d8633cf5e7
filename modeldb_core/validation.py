"""Checks at the boundary: every key, value and URI a user hands us.

Rules (documented in docs/security.md):
- keys (params, metrics, tags): normalized to Unicode NFC, then 1..250
  characters; control, format (zero-width, bidi) and line-separator characters
  and lone surrogates are refused, as is leading/trailing whitespace: two keys
  that look the same are the same key;
- metric values: real numbers (int, float, numpy scalars); NaN and +/-inf are
  kept as they are; bool, str and None are refused;
- metric steps: whole numbers from 0 to 2**62;
- timestamps: seconds since the epoch (int, float, numpy numbers) from 0 to
  the end of year 9999, or a timezone-aware ``datetime``, converted once to
  seconds; text, naive datetimes, NaN and milliseconds are refused;
- tag values: strings up to 5,000 characters, no NUL or lone surrogates,
  secrets redacted (``redaction``);
- notes: up to 65,536 characters, same characters, secrets redacted;
- URIs: a local path is made absolute (``..`` resolved) and becomes
  ``file://...``; a URI with a scheme may not contain ``..`` segments.
"""
from __future__ import annotations

import datetime as _dt
import math
import numbers
import os
import re
import unicodedata
from typing import Any

from .errors import ValidationError
from .model import Phase, RunStatus
from .redaction import redact_uri, redact_value

MAX_KEY = 250
MAX_TAG_VALUE = 5000
MAX_NOTE = 65536
MAX_NAME = 500
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# Characters that render as nothing (or reorder what follows) in a key: control (Cc),
# format (Cf: zero-width space/joiners, bidi overrides, BOM), line/paragraph separators, surrogates.
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
# 9999-12-31T23:59:59Z: a later number is almost always milliseconds or nanoseconds.
MAX_TIMESTAMP = 253_402_300_799.0
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


# Keys already found valid, and their NFC form: a process checks the same few names (params,
# tags, a metric of a 2,000-step series) over and over.
_VALID_KEYS: dict[str, str] = {}
_VALID_KEYS_KEPT = 10_000


def key(field: str, value: Any) -> str:
    """The key in NFC form; refused when empty, too long or holding invisible characters."""
    if value.__class__ is str:
        found = _VALID_KEYS.get(value)
        if found is not None:
            return found
    checked = _checked_key(field, value)
    if value.__class__ is str and len(_VALID_KEYS) < _VALID_KEYS_KEPT:
        _VALID_KEYS[value] = checked
    return checked


def _checked_key(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ValidationError(field, value, "must be a string")
    if not value:
        raise ValidationError(field, value, "must not be empty")
    if len(value) > MAX_KEY:
        raise ValidationError(field, value, f"is {len(value)} characters long; the limit is {MAX_KEY}")
    if _CONTROL.search(value):
        raise ValidationError(field, value, "must not contain NUL or control characters")
    if not value.isascii():
        if _SURROGATE.search(value):
            raise ValidationError(field, value, "must not contain lone surrogates (undecodable bytes)")
        value = unicodedata.normalize("NFC", value)
        for char in value:
            if unicodedata.category(char) in _INVISIBLE:
                raise ValidationError(field, value, f"must not contain invisible character U+{ord(char):04X} "
                                      f"({unicodedata.name(char, 'unnamed')})")
        if len(value) > MAX_KEY:
            raise ValidationError(field, value, f"is {len(value)} characters long; the limit is {MAX_KEY}")
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
    if not value.isascii() and _SURROGATE.search(value):
        raise ValidationError(field, value, "must not contain lone surrogates (undecodable bytes)")
    return value


def metric_value(field: str, value: Any) -> float:
    if type(value) is float:  # the common case, without the check against numbers.Real (slow)
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        # numpy scalars register as numbers.Real; anything else is refused.
        raise ValidationError(field, value, "must be a real number (int or float; NaN and inf are allowed)")
    try:
        return float(value)
    except OverflowError:
        raise ValidationError(field, value, "is beyond the range of a 64-bit float (about 1.8e308)") from None


def step(field: str, value: Any) -> int:
    # An exact int skips the check against numbers.Integral (an abstract class: slow).
    if type(value) is not int and (isinstance(value, bool) or not isinstance(value, numbers.Integral)):
        raise ValidationError(field, value, "must be a whole number")
    if value < 0 or value > 2**62:
        raise ValidationError(field, value, "must be between 0 and 2**62")
    return int(value)


def timestamp(field: str, value: Any) -> float:
    """Seconds since the epoch, from a number or a timezone-aware datetime (converted once)."""
    if type(value) is float or type(value) is int:
        pass  # the common case, without the checks against abstract classes below (slow)
    elif isinstance(value, _dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValidationError(field, value, "must be timezone-aware (e.g. datetime.now(timezone.utc)) "
                                  "or seconds since the epoch")
        value = value.timestamp()
    elif isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValidationError(field, value, "must be seconds since the epoch (int or float) or a "
                              "timezone-aware datetime; text is not parsed")
    seconds = float(value)
    if not math.isfinite(seconds):
        raise ValidationError(field, value, "must be a finite number of seconds")
    if seconds < 0 or seconds > MAX_TIMESTAMP:
        hint = " (milliseconds? divide by 1000)" if seconds > MAX_TIMESTAMP else ""
        raise ValidationError(field, value, f"must be between 0 and {MAX_TIMESTAMP:.0f} seconds since "
                              f"the epoch{hint}")
    return seconds


def optional_timestamp(field: str, value: Any) -> float | None:
    return None if value is None else timestamp(field, value)


def text(field: str, value: Any, limit: int) -> str:
    """A tag value or note: bounded, storable on every backend, with its secrets redacted.

    ``field`` is ``tags.<key>`` (or ``<where>.tags.<key>``) for a tag: a tag
    whose key names a secret is stored as ``***`` (the one rule of ``redaction``).
    """
    if not isinstance(value, str):
        raise ValidationError(field, value, "must be a string")
    if len(value) > limit:
        raise ValidationError(field, value, f"is {len(value)} characters long; the limit is {limit}")
    if "\x00" in value:
        raise ValidationError(field, value, "must not contain NUL")
    if not value.isascii() and _SURROGATE.search(value):
        raise ValidationError(field, value, "must not contain lone surrogates (undecodable bytes); "
                              "decode them first, e.g. os.fsencode(text).decode('utf-8', 'replace')")
    # "tags.<key>" or "runs[3].tags.<key>" (bulk records): the tag's key decides masking.
    tag_key = field.split("tags.", 1)[1] if field.startswith("tags.") or ".tags." in field else None
    return redact_value(tag_key, value)


def tag_value(key_: str, value: Any) -> str:
    """A tag's value as stored (``str(value)``, checked and redacted under its key)."""
    return text(f"tags.{key_}", str(value), MAX_TAG_VALUE)


def tags(values: Any) -> dict[str, str]:
    """Tags as stored: keys checked and in NFC form, values checked and redacted."""
    checked = {}
    for raw_key, value in values.items():
        tag_key = key("tags key", raw_key)
        checked[tag_key] = tag_value(tag_key, value)
    return checked


def phase(value: Any) -> str | None:
    if value is None:
        return None
    raw = value.value if isinstance(value, Phase) else value
    allowed = [p.value for p in Phase]
    if raw not in allowed:
        raise ValidationError("phase", value, f"must be one of {', '.join(allowed)}")
    return raw


_STATUSES = frozenset(s.value for s in RunStatus)


def status(value: Any) -> str:
    raw = value.value if isinstance(value, RunStatus) else value
    if raw not in _STATUSES:
        raise ValidationError("status", value, f"must be one of {', '.join(s.value for s in RunStatus)}")
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
    if not value.isascii() and _SURROGATE.search(value):
        value = _percent_encode_undecodable(field, value)
    if _SCHEME.match(value):
        scheme, rest = value.split("://", 1)
        if scheme == "file":
            return "file://" + os.path.abspath(rest)
        if ".." in rest.split("/"):
            raise ValidationError(field, value, "must not contain '..' path segments")
        return redact_uri(value)
    return "file://" + os.path.abspath(os.path.expanduser(value))


def _percent_encode_undecodable(field: str, value: str) -> str:
    """A path's undecodable bytes (``os.listdir``'s surrogate escapes) written ``%XX``."""
    def encode(match: re.Match) -> str:
        code = ord(match.group(0))
        if not 0xDC80 <= code <= 0xDCFF:
            raise ValidationError(field, value, "must not contain lone surrogates")
        return f"%{code - 0xDC00:02X}"

    return _SURROGATE.sub(encode, value)


def finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None
