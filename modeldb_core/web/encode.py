"""Turning model objects into what JSON and templates can show.

JSON has no NaN or infinity, and a metric may be either: they travel as the
strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``.
"""
from __future__ import annotations

import math
from typing import Any

# Text for people is the one rule of modeldb_core.presentation (the CLI shows values the same way).
from modeldb_core.presentation import duration, non_finite, plain  # noqa: F401 - template filters
from modeldb_core.presentation import text as text_of
from modeldb_core.presentation import timestamp as when  # noqa: F401 - template filter


def number(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return non_finite(value)
    return value


# Recursively: dataclasses to dicts, non-finite floats to strings (the one rule of presentation).
jsonable = plain


def clip(value: Any, limit: int) -> Any:
    """Recursively: every string longer than ``limit`` cut, saying how long it was.

    What a page or an answer shows is bounded whatever a run recorded; the
    whole value stays in the store (``modeldb runs show --json``).
    """
    if isinstance(value, str):
        if len(value) <= limit:
            return value
        return f"{value[:limit]}\u2026 ({len(value):,} characters, cut at {limit:,})"
    if isinstance(value, dict):
        return {clip(k, limit): clip(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [clip(v, limit) for v in value]
    return value


def short(value: Any, width: int = 24) -> str:
    """A value for a narrow table cell: numbers to 4 significant digits, long texts cut with an ellipsis."""
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:.4g}"
    text = text_of(value)
    return text if len(text) <= width else text[:width - 1] + "\u2026"


def breakable(name: str) -> Any:
    """A key that may wrap after its underscores and dots (``learning_<wbr>rate``), escaped."""
    from markupsafe import Markup, escape  # the template engine's (the ui extra)

    return Markup("".join(str(escape(c)) + ("<wbr>" if c in "_." else "") for c in name))


def count(n: int, word: str) -> str:
    """``1 run``, ``2 runs``: a number with its noun (plural by an added s)."""
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def inline_code(text: str) -> Any:
    """A description written with Markdown backticks, as HTML with ``<code>`` (everything escaped)."""
    from markupsafe import Markup, escape

    parts = (text or "").split("`")
    if len(parts) % 2 == 0:  # an unmatched backtick stays as it is
        return escape(text)
    return Markup("".join(f"<code>{escape(p)}</code>" if i % 2 else str(escape(p)) for i, p in enumerate(parts)))


def show(value: Any, limit: int = 10_000) -> str:
    """A param, metric or tag value as a short text (escaping is the template's job)."""
    text = text_of(value)
    return text if len(text) <= limit else clip(text, limit)
