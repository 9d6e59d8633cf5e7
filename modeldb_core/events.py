"""Tracking events: what the tracking runtime journals and the store applies.

Every side effect of tracking is one event ``(kind, subject, seq, data)``:

- ``subject`` is the client-made id of what the event is about: a run's UUID
  (UUIDv7, made when the run starts, with no store round trip) or a pipeline
  run's key (a UUIDv5 of its natural key, so every worker of one DAG run
  names it alike);
- ``seq`` is the process's sequence number, increasing with every event it
  records; the store uses it to order what the arrival order may not (the last
  tag value wins by ``seq``, a note is one note whatever the deliveries);
- ``data`` is plain JSON.

The store applies events idempotently and in any order (store/events.py): an
event delivered twice changes nothing, a terminal status is sticky, an
``ended`` that arrives before its ``started`` waits for it.

``define`` records are not about a subject: they name what a process's events
refer to by a short key (its environment, the code version of a function), so
the content is journaled once per process instead of once per run.
"""
from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from typing import Any, NamedTuple

# Run events
STARTED = "started"
PARAMS = "params"
METRIC = "metric"
TAGS = "tags"
NOTE = "note"
IO = "io"
HEARTBEAT = "heartbeat"
ENDED = "ended"
# Registry events (subject: the run that made the model; store/registry.py applies them)
MODEL_REGISTERED = "model_registered"
DEPLOYMENT_RECORDED = "deployment_recorded"
# Reproduction events (subject: a run; store/reproduction.py applies them): what a run needs
# to be executed again (one part of its recipe per event), and a run's link to the run it
# reproduced with the verdict of the comparison.
RECIPE = "recipe"
REPRODUCTION = "reproduction"
# A blob of this machine's artifact folder that a modeldb server must keep for other machines
# (subject: its content hash; data: the folder). The writer pushes it before sending the batch
# (store/http_store.py); a database's clients share the folder, so the store writes nothing.
BLOB_KEPT = "blob_kept"
# Pipeline run events (subject: the pipeline run's key)
PIPELINE_STARTED = "pipeline_started"
PIPELINE_ENDED = "pipeline_ended"
# What a process's events refer to by key (subject: the key)
DEFINE = "define"

RUN_KINDS = frozenset({STARTED, PARAMS, METRIC, TAGS, NOTE, IO, HEARTBEAT, ENDED})
# Events about other things than runs (registry, deployments, ...): each kind is
# declared here, by name, and applied by the applier the store registers for it
# (store/events.py ``applier``). Add a kind here before journaling it.
DOMAIN_KINDS: frozenset[str] = frozenset({MODEL_REGISTERED, DEPLOYMENT_RECORDED, RECIPE, REPRODUCTION,
                                          BLOB_KEPT})
KINDS = RUN_KINDS | {PIPELINE_STARTED, PIPELINE_ENDED, DEFINE} | DOMAIN_KINDS
# Events whose ``data["actor"]`` is who made the change (the registry's audit log records it).
# ``modeldb server`` with tokens replaces it with the token's name: what a client claims is not trusted.
ACTOR_KINDS = frozenset({MODEL_REGISTERED, DEPLOYMENT_RECORDED})
# What a journal over its size cap stops keeping first (never params, status or lineage).
DROPPABLE = frozenset({METRIC, HEARTBEAT})


class Event(NamedTuple):
    kind: str
    subject: str
    seq: int
    data: Any

    def to_json(self) -> list[Any]:
        return [self.kind, self.subject, self.seq, self.data]

    @classmethod
    def from_json(cls, value: Any) -> "Event":
        kind, subject, seq, data = value
        if kind not in KINDS or not isinstance(subject, str) or not isinstance(seq, int):
            raise ValueError(f"not a tracking event: {str(value)[:200]}")
        return cls(kind, subject, seq, data)


_clock = [0, 0]  # the last (milliseconds, counter) this process used
_clock_lock = threading.Lock()
# Random bytes taken from the OS a few kilobytes at a time: ``os.urandom`` per id is a
# system call that lets go of the GIL, and the writer thread then holds the caller up.
_entropy = bytearray()


def _random_bytes(count: int) -> bytes:
    """``count`` random bytes (the caller holds ``_clock_lock``)."""
    if len(_entropy) < count:
        _entropy.extend(os.urandom(4096))
    taken = bytes(_entropy[:count])
    del _entropy[:count]
    return taken


def _forget_entropy() -> None:
    # A forked child must not make the ids its parent makes from the same bytes.
    _entropy.clear()


os.register_at_fork(after_in_child=_forget_entropy)


def uuid7() -> str:
    """A time-ordered UUID (RFC 9562 version 7): 48 bits of Unix milliseconds, a 12-bit
    counter (so the ids one process makes in one millisecond still sort in the order
    they were made, RFC 9562 method 1), then 62 random bits."""
    millis = time.time_ns() // 1_000_000
    with _clock_lock:
        last, counter = _clock
        if millis <= last:
            millis, counter = last, counter + 1
            if counter > 0xFFF:  # 4,096 ids in one millisecond: borrow the next one
                millis, counter = last + 1, 0
        else:
            counter = int.from_bytes(_random_bytes(2), "big") & 0x3FF
        _clock[0], _clock[1] = millis, counter
        random_bits = int.from_bytes(_random_bytes(8), "big") & ((1 << 62) - 1)
    value = (millis & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | counter << 64 | 0x2 << 62 | random_bits
    return _formatted(value)


def name_uuid(namespace: str, name: str) -> str:
    """The UUID of ``name`` in ``namespace`` (RFC 9562 version 5, as ``uuid.uuid5`` makes it):
    the id every process gives one thing, with no store round trip.

    Made without the ``uuid`` module's classes: an orchestrator task makes one on its
    path, where parsing and building ``UUID`` objects cost ~100 µs of a cold CPU cache."""
    digest = hashlib.sha1(bytes.fromhex(namespace.replace("-", "")) + name.encode()).digest()
    value = int.from_bytes(digest[:16], "big") & ~(0xF000 << 64 | 0xC000 << 48) | 0x5 << 76 | 0x2 << 62
    return _formatted(value)


def _formatted(value: int) -> str:
    """A 128-bit UUID in its canonical text form (``str(uuid.UUID(int=value))``)."""
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


_PIPELINE_NAMESPACE = "6f1c2a4e-7d3b-5e8a-9c41-0b2d3e4f5a6b"


def pipeline_run_key(project: str, pipeline: str, orchestrator: str, structure_hash: str,
                     external_id: str) -> str:
    """The id every process gives one pipeline run (a DAG run seen by many workers)."""
    name = "\x1f".join((project, pipeline, orchestrator, structure_hash, external_id))
    return name_uuid(_PIPELINE_NAMESPACE, name)


def is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except (ValueError, AttributeError, TypeError):
        return False
    return len(text) == 36
