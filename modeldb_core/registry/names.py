"""Model and alias names, and ``models:/`` URIs: the one parser every caller uses.

A model is named ``models:/pricing``; one version ``models:/pricing/3``; what an
alias points at ``models:/pricing@production``. The ``models:/`` prefix may be left
out where a model is expected (``modeldb models show pricing@production``).
Names are trimmed and NFC-normalized, so ``pricing`` and ``pricing `` are one name;
``/``, ``@`` and ``:`` are refused in names because they separate the parts of a URI.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from modeldb_core import validation
from modeldb_core.errors import ValidationError

PREFIX = "models:/"
_VERSION = re.compile(r"[0-9]+\Z")
_OTHER_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")


@dataclass(frozen=True)
class ModelRef:
    """A model, one of its versions (``version``) or what an alias points at (``alias``)."""

    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        tail = f"/{self.version}" if self.version is not None else (f"@{self.alias}" if self.alias else "")
        return f"{PREFIX}{self.name}{tail}"


def model_name(value: object, field: str = "model name") -> str:
    if not isinstance(value, str):
        raise ValidationError(field, value, "must be a string")
    name = validation.key(field, value.strip())
    for mark in ("/", "@", ":"):
        if mark in name:
            raise ValidationError(field, value, f"must not contain {mark!r} (it separates the parts of models:/ URIs)")
    return name


def alias_name(value: object, field: str = "alias") -> str:
    alias = model_name(value, field)
    if _VERSION.match(alias):
        raise ValidationError(field, value, "must not be a number (models:/name/3 names version 3)")
    return alias


def parse(text: object, field: str = "model") -> ModelRef:
    """``models:/name``, ``models:/name/N`` or ``models:/name@alias`` (prefix optional)."""
    if not isinstance(text, str):
        raise ValidationError(field, text, "must be a models:/ URI or a model name")
    body = text.strip()
    if body.startswith(PREFIX):
        body = body[len(PREFIX):]
    elif _OTHER_SCHEME.match(body):
        raise ValidationError(field, text, "is not a models:/ URI (expected models:/name, models:/name/N "
                                           "or models:/name@alias)")
    try:
        if "@" in body:
            name, _, alias = body.partition("@")
            return ModelRef(model_name(name, "the name"), alias=alias_name(alias, "the alias after '@'"))
        if "/" in body:
            name, _, version = body.partition("/")
            if not _VERSION.match(version) or int(version) < 1 or len(version) > 9:
                raise ValidationError(field, text, "the version after '/' must be a whole number from 1 "
                                                   "(expected models:/name/N)")
            return ModelRef(model_name(name, "the name"), version=int(version))
        return ModelRef(model_name(body, "the name"))
    except ValidationError as exc:
        if exc.value is text:
            raise
        # The whole URI is what the user typed: name it, and the part that is wrong.
        raise ValidationError(field, text, f"{exc.field} {exc.problem}") from None
