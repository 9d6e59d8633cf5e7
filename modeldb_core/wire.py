"""What travels between a tracking client and ``modeldb server``, in one place.

A batch of tracking events (``events.py``) is one JSON object::

    {"events": [[kind, subject, seq, data], ...], "definitions": {key: {...}}}

— the journal's own records, and the definitions (environment, code versions)
the batch's ``started`` events refer to by key. The server checks a batch here
before its store sees it: a malformed event is refused with the path of the
field (``events[3].data.started_at``), the limit and the value, and nothing of
the batch is written. Runs read back over HTTP travel as ``run_to_json``.
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
    return [_event(f"events[{i}]", raw) for i, raw in enumerate(raw_events)], definitions


def _event(where: str, raw: Any) -> Event:
    if not isinstance(raw, list) or len(raw) != 4:
        raise ValidationError(where, raw, "must be [kind, subject, seq, data]")
    kind, subject, seq, data = raw
    if kind not in KINDS:
        raise ValidationError(f"{where}.kind", kind, f"must be one of {', '.join(sorted(KINDS))}")
    if not isinstance(subject, str) or not subject or len(subject) > MAX_SUBJECT:
        raise ValidationError(f"{where}.subject", subject, f"must be an id of 1 to {MAX_SUBJECT} characters")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= validation.MAX_ID:
        raise ValidationError(f"{where}.seq", seq, "must be a whole number from 0 to 2**63 - 1")
    check = _DATA.get(kind)
    if check is not None:
        check(f"{where}.data", data)
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


# -- runs read back over HTTP -------------------------------------------------------------
def run_to_json(run: Any) -> dict[str, Any]:
    import dataclasses

    return dataclasses.asdict(run)


def run_from_json(value: dict[str, Any]) -> Any:
    from .model import Run

    return Run(**value)


def record_to_json(record: Any) -> dict[str, Any]:
    return {"run": run_to_json(record.run), "params": record.params, "metrics": record.metrics,
            "tags": record.tags}


def record_from_json(value: dict[str, Any]) -> Any:
    from .query.records import RunRecord

    return RunRecord(run=run_from_json(value["run"]), params=value["params"],
                     metrics=value["metrics"], tags=value["tags"])


def detail_to_json(detail: Any) -> dict[str, Any]:
    import dataclasses

    return dataclasses.asdict(detail)


def detail_from_json(value: dict[str, Any]) -> Any:
    from .model import ArtifactVersion, CodeVersion, Environment, Metric, Note, RunDetail, RunIO

    def edges(items: list[dict[str, Any]]) -> list[RunIO]:
        return [RunIO(direction=e["direction"], name=e["name"], artifact=ArtifactVersion(**e["artifact"]))
                for e in items]

    return RunDetail(
        run=run_from_json(value["run"]), params=value["params"], metrics=value["metrics"],
        metric_history={k: [Metric(**m) for m in v] for k, v in value["metric_history"].items()},
        tags=value["tags"], notes=[Note(**n) for n in value["notes"]],
        inputs=edges(value["inputs"]), outputs=edges(value["outputs"]),
        code_version=CodeVersion(**value["code_version"]) if value.get("code_version") else None,
        environment=Environment(**value["environment"]) if value.get("environment") else None,
        children=value.get("children") or [])


def dumps(value: Any) -> bytes:
    return _encode(value).encode()
