"""Recipe and reproduction events sent to a `modeldb server` are checked at the boundary."""
from __future__ import annotations

import json

import pytest

from modeldb_core import wire
from modeldb_core.errors import ValidationError
from modeldb_core.events import uuid7

RUN = uuid7()


def _body(*events) -> bytes:
    return json.dumps({"events": [list(e) for e in events], "definitions": {}}).encode()


def test_good_recipe_and_reproduction_events_pass():
    events, _ = wire.decode_batch(_body(
        ["recipe", RUN, 1, {"part": "entry", "data": {"target": "m:f"}}],
        ["reproduction", RUN, 2, {"original": uuid7(), "verdict": "identical", "details": {}}]))
    assert [e.kind for e in events] == ["recipe", "reproduction"]


@pytest.mark.parametrize(("data", "field"), [
    ({"part": "", "data": {}}, "events[0].data.part"),
    ({"part": "entry", "data": "x"}, "events[0].data.data"),
])
def test_a_bad_recipe_names_the_field(data, field):
    with pytest.raises(ValidationError) as refused:
        wire.decode_batch(_body(["recipe", RUN, 1, data]))
    assert refused.value.field == field


@pytest.mark.parametrize(("data", "field"), [
    ({"original": "not-a-run"}, "events[0].data.original"),
    ({"verdict": "x" * 41}, "events[0].data.verdict"),
    ({"details": [1]}, "events[0].data.details"),
])
def test_a_bad_reproduction_names_the_field(data, field):
    with pytest.raises(ValidationError) as refused:
        wire.decode_batch(_body(["reproduction", RUN, 1, data]))
    assert refused.value.field == field
