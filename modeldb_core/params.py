r"""How any Python value becomes a param value (the one documented rule).

- ``None``, ``bool``, ``int``, ``float`` (NaN and inf included) and ``str`` are
  kept as they are; numpy scalars become the Python number.
- ``list``, ``tuple``, ``set`` (sorted) and ``dict`` with string keys are kept
  as JSON when every item follows this rule and the JSON is at most 10,000
  characters.
- ``pathlib`` paths become strings, enums their value, dates ISO 8601.
- Anything else becomes the string ``"<module.Type> repr"``, with memory
  addresses (`` at 0x7f...``) removed so the same value gives the same string
  in every process, cut to 500 characters. This never raises.
- Every string (a value, an item, a dict key) is storable on every backend:
  one holding NUL or lone surrogates (``os.listdir``'s undecodable bytes) is
  stored as ``"<escaped str> "`` followed by the text with ``\``, NUL and each
  surrogate written ``\\``, ``\u0000``, ``\udcXX`` (lossless: ``unescape``
  gives the original back). A string over 10,000 characters is stored as
  ``"<truncated str: N characters, sha256:HEX> "`` followed by its first 1,000
  characters (the hash is of its UTF-8 bytes, surrogates passed through).
- Secrets are redacted with the one rule of ``redaction``: the whole value
  under a key naming a secret (``normalize(value, key=...)``), passwords of
  URIs and ``password=...`` inside any string.
"""
from __future__ import annotations

import datetime as _dt
import enum
import json
import math
import os
import re
from typing import Any, Mapping

from . import json_text, validation
from .redaction import MASK, NUMBERS, is_secret_key, redact_text, redact_value

MAX_JSON = 10_000
MAX_REPR = 500
MAX_TEXT = 10_000
TEXT_PREFIX = 1_000
ESCAPED = "<escaped str> "
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_ESCAPE = re.compile("[\\\\\x00\ud800-\udfff]")
_UNESCAPE = re.compile(r"\\(\\|u[0-9a-f]{4})")


def _escape_char(match: re.Match) -> str:
    char = match.group(0)
    return "\\\\" if char == "\\" else f"\\u{ord(char):04x}"


def storable(text: str) -> str:
    """``text`` as it may be stored on SQLite and PostgreSQL (see the module rule)."""
    original = text
    if (not text.isascii() or "\x00" in text) and _UNSTORABLE.search(text):
        text = ESCAPED + _ESCAPE.sub(_escape_char, text)
    if len(text) > MAX_TEXT:
        import hashlib

        digest = hashlib.sha256(original.encode("utf-8", "surrogatepass")).hexdigest()
        # Redact a little past the cut, so a secret crossing it is still found.
        shown = redact_text(text[:TEXT_PREFIX + 500])[:TEXT_PREFIX]
        text = f"<truncated str: {len(original)} characters, sha256:{digest}> {shown}"
    return text


def unescape(text: str) -> str:
    """The original of an ``"<escaped str> "`` value (any other text is returned as it is)."""
    if not text.startswith(ESCAPED):
        return text
    return _UNESCAPE.sub(lambda m: "\\" if m.group(1) == "\\" else chr(int(m.group(1)[1:], 16)),
                         text[len(ESCAPED):])


class _NotPlain(Exception):
    pass


def _plain(value: Any, depth: int = 0) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return storable(str(value))
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
        if NUMBERS.issuperset(map(type, value)):  # exact numbers are plain as they are
            return list(value)
        return [_plain(v, depth + 1) for v in value]
    if isinstance(value, (set, frozenset)):
        items = [_plain(v, depth + 1) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True, default=str))
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise _NotPlain
        return {storable(k): _plain(v, depth + 1) for k, v in value.items()}
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
    if len(text) > MAX_REPR:
        text = text[:MAX_REPR - 3] + "..."
    return storable(redact_text(text))


_json = json_text.encoder(default=str)


def normalize(value: Any, key: str | None = None) -> Any:
    """A JSON-able, storable, redacted value for ``value`` following the module's rule.

    ``key`` is the param's name: under a key naming a secret the value is ``***``.
    """
    if key is not None and is_secret_key(key):
        return MASK if value is not None else None
    try:
        plain = _plain(value)
    except _NotPlain:
        return describe(value)
    except Exception:  # noqa: BLE001
        return describe(value)
    if isinstance(plain, (list, dict)):
        if len(_json(plain)) > MAX_JSON:
            return describe(value)
    return redact_value(None, plain)


def normalize_items(values: Mapping[str, Any], field: str = "params key") -> dict[str, Any]:
    """Params as stored: each key checked and in NFC form (``validation.key``), each value
    normalized and redacted under its key. Raises ``ValidationError`` for a bad key."""
    checked = {}
    for raw_key, value in values.items():
        key = validation.key(field, raw_key)
        checked[key] = normalize(value, key=key)
    return checked


def same(a: Any, b: Any) -> bool:
    """Equality of two normalized values, with NaN equal to NaN."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return json.dumps(a, sort_keys=True, allow_nan=True) == json.dumps(b, sort_keys=True, allow_nan=True)
