"""What travels between a tracking client and ``modeldb server``, in one place.

A batch of tracking events (``events.py``) is one JSON object::

    {"events": [[kind, subject, seq, data], ...], "definitions": {key: {...}}}

— the journal's own records, and the definitions (environment, code versions)
the batch's ``started`` events refer to by key. The server checks a batch here
before its store sees it: a malformed event is refused with the path of the
field (``events[3].data.started_at``), the limit and the value, and nothing of
the batch is written. Runs, models and deployments read back over HTTP travel as ``to_json``
makes them and ``from_json`` rebuilds them.
"""
from __future__ import annotations

import json
import numbers
from typing import Any, Iterator, Sequence

from . import validation
from .errors import RequestTooLargeError, ValidationError
from .events import (
    DEFINE, ENDED, HEARTBEAT, IO, KINDS, METRIC, NOTE, PARAMS, PIPELINE_ENDED, PIPELINE_STARTED,
    RECIPE, REPRODUCTION, STARTED, TAGS, Event, is_uuid,
)

EVENTS_PATH = "/api/v1/events"
# The largest request body the server reads, and the most events in one batch. A client
# splits what it sends to stay under both (``split``).
MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_EVENTS = 10_000
MAX_SUBJECT = 64

_encode = json.JSONEncoder(separators=(",", ":"), allow_nan=True, ensure_ascii=False).encode


def split(events: Sequence[Event], definitions: dict[str, Any] | None) -> Iterator[bytes]:
    """The bodies that carry ``events`` within the server's limits (each with the definitions)."""
    head = b'{"definitions":' + _encode(definitions or {}).encode() + b',"events":['
    chunk: list[bytes] = []
    size = len(head) + 2
    for event in events:
        encoded = _encode(event.to_json()).encode()
        if chunk and (size + len(encoded) + 1 > MAX_BODY_BYTES or len(chunk) >= MAX_EVENTS):
            yield head + b",".join(chunk) + b"]}"
            chunk, size = [], len(head) + 2
        chunk.append(encoded)
        size += len(encoded) + 1
    if chunk or not events:
        yield head + b",".join(chunk) + b"]}"


def decode_batch(body: bytes) -> tuple[list[Event], dict[str, Any]]:
    """The events and definitions of a request body, checked; ValidationError names the field."""
    if len(body) > MAX_BODY_BYTES:
        raise RequestTooLargeError(f"{len(body):,} bytes", MAX_BODY_BYTES)
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError("body", body[:80], f"is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValidationError("body", value, "must be an object with 'events' and 'definitions'")
    raw_events = value.get("events")
    if not isinstance(raw_events, list):
        raise ValidationError("events", raw_events, "must be a list of [kind, subject, seq, data]")
    if len(raw_events) > MAX_EVENTS:
        raise ValidationError("events", f"{len(raw_events):,} events", f"the limit is {MAX_EVENTS:,} a batch")
    definitions = value.get("definitions") or {}
    if not isinstance(definitions, dict) or not all(isinstance(v, dict) for v in definitions.values()):
        raise ValidationError("definitions", definitions, "must map keys to objects")
    events: list[Event] = []
    try:
        for raw in raw_events:
            events.append(_event(raw))
    except ValidationError as exc:  # named by its place only now: thousands of valid events a batch
        raise ValidationError(f"events[{len(events)}]{exc.field}", exc.value, exc.problem) from None
    return events, definitions


def _event(raw: Any) -> Event:
    """An event checked; a ValidationError's field is relative to the event (``.kind``, ...)."""
    if not isinstance(raw, list) or len(raw) != 4:
        raise ValidationError("", raw, "must be [kind, subject, seq, data]")
    kind, subject, seq, data = raw
    if kind not in KINDS:
        raise ValidationError(".kind", kind, f"must be one of {', '.join(sorted(KINDS))}")
    if not isinstance(subject, str) or not subject or len(subject) > MAX_SUBJECT:
        raise ValidationError(".subject", subject, f"must be an id of 1 to {MAX_SUBJECT} characters")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= validation.MAX_ID:
        raise ValidationError(".seq", seq, "must be a whole number from 0 to 2**63 - 1")
    check = _DATA.get(kind)
    if check is not None:
        check(".data", data)
    return Event(kind, subject, seq, data)


def _object(field: str, data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValidationError(field, data, "must be an object")
    return data


def _required(field: str, data: dict[str, Any], *names: str) -> None:
    for name in names:
        if data.get(name) is None:
            raise ValidationError(f"{field}.{name}", None, "is required")


def _started(field: str, data: Any) -> None:
    data = _object(field, data)
    _required(field, data, "project", "name", "started_at")
    validation.name(f"{field}.project", data["project"])
    validation.name(f"{field}.name", data["name"])
    validation.timestamp(f"{field}.started_at", data["started_at"])
    for key in ("params", "tags"):
        if data.get(key) is not None:
            _object(f"{field}.{key}", data[key])
    if data.get("phase") is not None:
        try:
            validation.phase(data["phase"])
        except ValidationError as exc:
            raise ValidationError(f"{field}.phase", data["phase"], exc.problem) from None
    parent = data.get("parent")
    if parent is not None and not isinstance(parent, (str, int)):
        raise ValidationError(f"{field}.parent", parent, "must be a run id")


def _ended(field: str, data: Any) -> None:
    data = _object(field, data)
    _required(field, data, "status", "ended_at")
    try:
        validation.status(data["status"])
    except ValidationError as exc:
        raise ValidationError(f"{field}.status", data["status"], exc.problem) from None
    validation.timestamp(f"{field}.ended_at", data["ended_at"])


def _metric(field: str, data: Any) -> None:
    if not isinstance(data, list) or len(data) != 4:
        raise ValidationError(field, data, "must be [key, value, step, timestamp]")
    key, value, step, at = data
    validation.key(f"{field}[0]", key)
    # Exact floats and ints skip the check against numbers.Real (an abstract class: slow).
    if value is not None and type(value) is not float and type(value) is not int \
            and (isinstance(value, bool) or not isinstance(value, numbers.Real)):
        raise ValidationError(f"{field}[1]", value, "must be a number")
    validation.step(f"{field}[2]", step)
    validation.timestamp(f"{field}[3]", at)


def _io(field: str, data: Any) -> None:
    data = _object(field, data)
    if data.get("direction") not in ("input", "output"):
        raise ValidationError(f"{field}.direction", data.get("direction"), "must be input or output")
    version = _object(f"{field}.version", data.get("version"))
    _required(f"{field}.version", version, "uri", "kind", "content_hash")
    allowed = {"uri", "kind", "content_hash", "size", "metadata", "fingerprint_method"}
    unknown = sorted(set(version) - allowed)
    if unknown:
        raise ValidationError(f"{field}.version.{unknown[0]}", version[unknown[0]], "is not a field of a version")


def _note(field: str, data: Any) -> None:
    data = _object(field, data)
    _required(field, data, "text", "at")
    validation.text(f"{field}.text", data["text"], validation.MAX_NOTE)
    validation.timestamp(f"{field}.at", data["at"])


def _heartbeat(field: str, data: Any) -> None:
    validation.timestamp(field, data)


def _pipeline_started(field: str, data: Any) -> None:
    data = _object(field, data)
    _required(field, data, "project", "name", "orchestrator", "external_id", "started_at")
    validation.timestamp(f"{field}.started_at", data["started_at"])


def _recipe(field: str, data: Any) -> None:
    data = _object(field, data)
    part = data.get("part")
    if not isinstance(part, str) or not 0 < len(part) <= 50:
        raise ValidationError(f"{field}.part", part, "must be a name of 1 to 50 characters")
    _object(f"{field}.data", data.get("data"))


def _reproduction(field: str, data: Any) -> None:
    data = _object(field, data)
    original = data.get("original")
    if original is not None and not (isinstance(original, str) and is_uuid(original)):
        raise ValidationError(f"{field}.original", original, "must be a run's uuid")
    verdict = data.get("verdict")
    if verdict is not None and not (isinstance(verdict, str) and len(verdict) <= 40):
        raise ValidationError(f"{field}.verdict", verdict, "must be a word of at most 40 characters")
    if data.get("details") is not None:
        _object(f"{field}.details", data["details"])


_DATA = {
    STARTED: _started, ENDED: _ended, METRIC: _metric, IO: _io, NOTE: _note, HEARTBEAT: _heartbeat,
    PARAMS: _object, TAGS: _object, DEFINE: _object, PIPELINE_STARTED: _pipeline_started,
    PIPELINE_ENDED: _ended, RECIPE: _recipe, REPRODUCTION: _reproduction,
}


def dumps(value: Any) -> bytes:
    return _encode(value).encode()


# -- domain objects over HTTP: one codec for every dataclass --------------------------------
# A dataclass travels as ``dataclasses.asdict`` makes it; the receiver rebuilds it from the
# type it expects (a route's declared answer, a dataclass field's annotation), so no type
# tags travel and a run, a model version or a deployment read remotely equals the local one.
def to_json(value: Any) -> Any:
    import dataclasses

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    return value


def from_json(expected: Any, value: Any) -> Any:
    """``value`` (decoded JSON) as ``expected``: a dataclass, ``list[X]``, ``tuple[X, Y]``,
    ``dict[str, X]``, ``X | None`` or a plain type; ``Any`` keeps the JSON as it is."""
    import dataclasses
    import types
    import typing

    if value is None or expected is Any or expected is None:
        return value
    origin = typing.get_origin(expected)
    args = typing.get_args(expected)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return from_json(options[0], value)
        shaped = [a for a in options if dataclasses.is_dataclass(a)] if isinstance(value, dict) else []
        return from_json(shaped[0], value) if shaped else value
    if origin is list:
        return [from_json(args[0] if args else Any, v) for v in value]
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(from_json(args[0], v) for v in value)
        return tuple(from_json(a, v) for a, v in zip(args, value, strict=True)) if args else tuple(value)
    if origin is dict:
        inner = args[1] if len(args) == 2 else Any
        return {k: from_json(inner, v) for k, v in value.items()}
    if dataclasses.is_dataclass(expected):
        hints = _hints(expected)
        kwargs = {f.name: from_json(hints.get(f.name, Any), value[f.name])
                  for f in dataclasses.fields(expected) if f.init and f.name in value}
        return expected(**kwargs)
    # Numbers stay as JSON carried them (2 stays 2, 2.0 stays 2.0): what the caller gave.
    return value


def _hints(cls: type) -> dict[str, Any]:
    import typing

    found = _HINTS.get(cls)
    if found is None:
        found = _HINTS[cls] = typing.get_type_hints(cls)
    return found


_HINTS: dict[type, dict[str, Any]] = {}


# -- errors over HTTP: one mapping both ways ----------------------------------------------------
# The server answers a ModelDBError with the status below and, in the body, the error's class,
# message and attributes; the client raises the same class with the same message and attributes
# (``error_from_json``), so a refused promotion or an unknown model reads as it does locally.
def error_status(exc: BaseException) -> int:
    from . import errors

    statuses = (
        (errors.RequestTooLargeError, 413), (errors.ValidationError, 400), (errors.QueryError, 400),
        (errors.AuthenticationError, 401), (errors.AuthorizationError, 403), (errors.NotFoundError, 404),
        (errors.PromotionRefusedError, 409), (errors.IntegrityError, 409), (errors.ReproductionBlockedError, 409),
        (errors.RateLimitedError, 429),
        # A store that failed: the client keeps what it sent (the journal) and tries again.
        (errors.StoreError, 503), (errors.ModelDBError, 503),
    )
    return next((status for cls, status in statuses if isinstance(exc, cls)), 500)


def _error_classes() -> dict[str, type]:
    """Every ModelDBError by its class name: what an error answer may name."""
    from . import errors

    return {name: cls for name, cls in vars(errors).items()
            if isinstance(cls, type) and issubclass(cls, errors.ModelDBError)}


def error_to_json(exc: BaseException) -> dict[str, Any]:
    """The body of an error answer: status, message, class, attributes (and the field, if any)."""
    attributes = {k: _encodable(to_json(v)) for k, v in vars(exc).items() if not k.startswith("_")}
    body = {"status": error_status(exc), "message": str(exc), "type": type(exc).__name__,
            "attributes": attributes}
    if "field" in attributes:
        body["field"] = attributes["field"]
    return {"error": body}


def _encodable(value: Any) -> Any:
    """``value`` if JSON can carry it, else its text (a refused body's bytes, an odd object)."""
    try:
        _encode(value)
        return value
    except (TypeError, ValueError):
        return value.decode(errors="replace") if isinstance(value, bytes) else repr(value)


def _error_attribute_types() -> dict[tuple[str, str], Any]:
    """Attributes that are domain objects, rebuilt as such (the rest stay JSON)."""
    from .registry.policy import Verdict

    return {("PromotionRefusedError", "verdict"): Verdict}


def error_from_json(body: Any) -> Exception | None:
    """The ModelDBError an error answer describes, or None when it names no known class."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    cls = _error_classes().get(error.get("type"))
    if cls is None:
        return None
    typed = _error_attribute_types()
    attributes = {k: from_json(typed.get((cls.__name__, k), Any), v)
                  for k, v in (error.get("attributes") or {}).items()}
    # Not through the class's __init__: its message is already made, as the server made it.
    exc = cls.__new__(cls)
    Exception.__init__(exc, error.get("message", ""))
    exc.__dict__.update(attributes)
    return exc


# -- blobs of the artifact store, by content hash (``HttpStore.push_blob``, server/blobs.py) --------
ARTIFACTS_PATH = "/api/v1/artifacts"
# A blob travels in one request and is held in memory on both sides while its hash is checked.
MAX_BLOB_BYTES = 512 * 1024 * 1024


# What the blob is (format, class, library versions: ``ArtifactStore.describe``), as JSON in a
# header beside its bytes, so a pulled model or profile is described as where it was made.
DESCRIPTION_HEADER = "X-ModelDB-Description"
MAX_DESCRIPTION_BYTES = 8 * 1024


def blob_description(text: str | None) -> dict[str, Any]:
    """The description a header carries (what the artifact store sets itself left out); ValidationError
    naming the header when it is not a JSON object of at most MAX_DESCRIPTION_BYTES."""
    if not text:
        return {}
    if len(text) > MAX_DESCRIPTION_BYTES:
        raise ValidationError(DESCRIPTION_HEADER, f"{len(text):,} characters",
                              f"the limit is {MAX_DESCRIPTION_BYTES:,}")
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ValidationError(DESCRIPTION_HEADER, text, f"is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValidationError(DESCRIPTION_HEADER, value, "must be a JSON object")
    return {k: v for k, v in value.items() if k not in ("content_hash", "size", "stored_at")}


def description_header(description: dict[str, Any]) -> str:
    text = json.dumps({k: v for k, v in description.items() if k not in ("content_hash", "size", "stored_at")},
                      ensure_ascii=True, separators=(",", ":"), default=str)
    return text if len(text) <= MAX_DESCRIPTION_BYTES else "{}"


def blob_name(content_hash: str) -> str:
    """``sha256:<64 lowercase hex>``, or ValidationError naming the value."""
    from .artifact_store import hex_digest

    return f"sha256:{hex_digest(content_hash)}"


def blob_path(content_hash: str) -> str:
    return f"{ARTIFACTS_PATH}/{blob_name(content_hash)}"
