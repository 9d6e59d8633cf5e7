"""JSON text from the C encoder, set up once per format.

``json.dumps`` and ``JSONEncoder.encode`` set the C encoder up again for every
call (Python code of ``json.encoder``, ~430 bytecodes an Airflow task on the
hooks' path, run on a cache the orchestrator left cold). What is encoded here
is plain JSON values made by ModelDB (events, normalized params and values),
so there is no circular-reference bookkeeping: a cycle fails with a
``RecursionError``, as ``check_circular=False`` would.
"""
from __future__ import annotations

import json
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any, Callable


def encoder(*, separators: tuple[str, str] = (", ", ": "), sort_keys: bool = False,
            default: Callable[[Any], Any] | None = None) -> Callable[[Any], str]:
    """A function writing what ``json.dumps(value, allow_nan=True, ...)`` with these options writes
    (ASCII, NaN and Infinity allowed)."""
    python = json.JSONEncoder(separators=separators, sort_keys=sort_keys, default=default,
                              allow_nan=True, check_circular=False)
    if c_make_encoder is None:  # an interpreter without the C accelerator
        return python.encode
    chunks = c_make_encoder(None, python.default, encode_basestring_ascii, None, separators[1],
                            separators[0], sort_keys, False, True)

    def encode(value: Any) -> str:
        return "".join(chunks(value, 0))

    return encode
