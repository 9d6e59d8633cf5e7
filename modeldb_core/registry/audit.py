"""The audit log's hash chain: one rule for writing a link and for checking it.

Each event's hash is the SHA-256 of the previous event's hash and the event's
own fields as stored (``before`` and ``after`` are the stored JSON text), so
editing any field of a row, or deleting a row, breaks the chain at that row.
"""
from __future__ import annotations

import hashlib
import json

# The link before the first event.
GENESIS = "0" * 64


def link_hash(prev_hash: str, at: float, actor: str, action: str, subject: str,
              before: str | None, after: str | None, reason: str | None) -> str:
    body = json.dumps([prev_hash, repr(float(at)), actor, action, subject, before, after, reason],
                      ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()
