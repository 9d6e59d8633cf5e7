"""Model and alias names, and ``models:/`` URIs: the one parser every caller uses.

A model is named ``models:/pricing``; one version ``models:/pricing/3``; what an
alias points at ``models:/pricing@production``. The ``models:/`` prefix may be left
out where a model is expected (``modeldb models show pricing@production``).
Names are trimmed and NFC-normalized, so ``pricing`` and ``pricing `` are one name;
``/``, ``@`` and ``:`` are refused in names because they separate the parts of a URI.

Model names are unique per project. A bare name is enough while one project holds
it; the project qualifies it otherwise, as the segment before the name:
``models:/risk/pricing@production``, ``models:/risk/pricing/3`` (Unity Catalog
qualifies the same way, with ``catalog.schema.`` before the name). A model name has
no ``/``, so the last segment is the name (the project may hold ``/``), and a last
segment of digits is a version: ``models:/pricing/3`` is version 3 of ``pricing``,
never a model ``3`` of project ``pricing`` (such a model is named with ``project=`` /
``--project``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

from modeldb_core import validation
from modeldb_core.errors import ValidationError

PREFIX = "models:/"
_VERSION = re.compile(r"[0-9]+\Z")
_SIGNED = re.compile(r"[+-]?[0-9]+\Z")
_OTHER_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")


@dataclass(frozen=True)
class ModelRef:
    """A model, one of its versions (``version``) or what an alias points at (``alias``)."""

    name: str
    version: int | None = None
    alias: str | None = None
    project: str | None = None  # None: whichever project holds the name (refused when several do)

    def __str__(self) -> str:
        tail = f"/{self.version}" if self.version is not None else (f"@{self.alias}" if self.alias else "")
        return f"{model_uri(self.name, self.project)}{tail}"

    @property
    def model(self) -> "ModelRef":
        """The model this reference is about (without its version or alias)."""
        return ModelRef(self.name, project=self.project)


def model_uri(name: str, project: str | None = None) -> str:
    """``models:/project/name`` (``models:/name`` without a project): the one spelling of a model's URI."""
    return f"{PREFIX}{project}/{name}" if project is not None else f"{PREFIX}{name}"


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
    """``models:/[project/]name``, ``.../N`` or ``...@alias`` (prefix optional)."""
    if isinstance(text, ModelRef):
        return text
    if not isinstance(text, str):
        raise ValidationError(field, text, "must be a models:/ URI or a model name")
    body = text.strip()
    if body.startswith(PREFIX):
        body = body[len(PREFIX):]
    elif _OTHER_SCHEME.match(body):
        raise ValidationError(field, text, "is not a models:/ URI (expected models:/name, models:/name/N, "
                                           "models:/name@alias or models:/project/name...)")
    try:
        version = alias = None
        head, at, tail = body.rpartition("@")
        if at and "/" not in tail:  # an '@' after the last '/' starts the alias (a project may hold '@')
            body, alias = head, alias_name(tail, "the alias after '@'")
        else:
            head, slash, tail = body.rpartition("/")
            if slash and _SIGNED.match(tail):
                if not _VERSION.match(tail) or int(tail) < 1 or len(tail) > 9:
                    raise ValidationError(field, text, "the version after '/' must be a whole number from 1 "
                                                       "(expected models:/name/N)")
                body, version = head, int(tail)
        project, slash, name = body.rpartition("/")
        if slash and not project.strip():
            raise ValidationError(field, text, "the project before '/' is empty (expected models:/project/name)")
        return ModelRef(model_name(name, "the name"), version=version, alias=alias,
                        project=validation.name("the project", project) if slash else None)
    except ValidationError as exc:
        if exc.value is text:
            raise
        # The whole URI is what the user typed: name it, and the part that is wrong.
        raise ValidationError(field, text, f"{exc.field} {exc.problem}") from None


def model_ref(value: object, project: str | None = None, field: str = "model") -> ModelRef:
    """A model (not one of its versions): ``name``, ``project/name`` or ``models:/...``, in
    ``project`` when given (a project in the text too must be the same)."""
    ref = parse(value, field)
    if ref.version is not None or ref.alias is not None:
        raise ValidationError(field, value, "names a version; expected a model (models:/[project/]name)")
    return qualify(ref, project)


def qualify(ref: ModelRef, project: str | None) -> ModelRef:
    """``ref`` in ``project`` (None: as it is); a reference that names another project is refused."""
    if project is None:
        return ref
    project = validation.name("project", project)
    if ref.project is not None and ref.project != project:
        raise ValidationError("project", project, f"differs from the project {ref.project!r} that {ref} names")
    return replace(ref, project=project)
