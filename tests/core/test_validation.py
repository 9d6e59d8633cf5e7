"""Every value is checked at the boundary: refused with a clear error, or stored so it reads back."""
from __future__ import annotations

import datetime as dt
import hashlib
import math

import pytest

import modeldb_core as mdb
from modeldb_core import params, validation
from modeldb_core.errors import ValidationError

UTC = dt.timezone.utc


def test_keys_are_normalized_to_nfc_so_look_alikes_are_one_key(tracking):
    decomposed, composed = "cafe\u0301", "caf\u00e9"
    with mdb.start_run("nfc", params={decomposed: 1}, tags={"re\u0301gion": "eu"}) as run:
        run.set_tags({"o\u0308l": "x"})
    detail = tracking.store.get_run_detail(run.id)
    assert detail.params == {composed: 1}
    assert detail.tags == {"r\u00e9gion": "eu", "\u00f6l": "x"}


@pytest.mark.parametrize("bad", ["a\u200bb", "\u200dlr", "lr\ufeff", "x\u202ey", "a\u2028b", "a\x00b", "a\tb",
                                 "bad\udcff"])
def test_keys_with_invisible_characters_are_refused_naming_the_field(bad):
    with pytest.raises(ValidationError) as raised:
        validation.key("params key", bad)
    assert raised.value.field == "params key"
    with pytest.raises(ValidationError, match="tags key"):
        mdb.start_run("x", tags={bad: "v"})


def test_nul_and_lone_surrogates_in_params_are_stored_escaped_and_the_run_completes(tracking):
    listed = "report-\udce9t\udce9.csv"  # what os.listdir returns for a Latin-1 file name
    values = {"with_nul": "a\x00b", "undecodable": listed, "slash": "C:\\data\\x", "nested": ["ok", "z\x00"]}
    with mdb.start_run("escaped", params=values) as run:
        pass
    detail = tracking.store.get_run_detail(run.id)
    assert detail.run.status == "succeeded"
    stored = detail.params
    assert stored["slash"] == "C:\\data\\x"  # nothing to escape: kept as it is
    assert stored["with_nul"].startswith(params.ESCAPED)
    assert params.unescape(stored["with_nul"]) == "a\x00b"
    assert params.unescape(stored["undecodable"]) == listed
    assert params.unescape(stored["nested"][1]) == "z\x00"


def test_a_huge_string_param_is_stored_as_hash_and_prefix(tracking):
    huge = "lorem ipsum " * 200_000  # 2.4 million characters
    with mdb.start_run("huge", params={"corpus": huge, "short": "x" * params.MAX_TEXT}) as run:
        pass
    stored = tracking.store.get_run_detail(run.id).params
    digest = hashlib.sha256(huge.encode()).hexdigest()
    assert stored["corpus"].startswith(f"<truncated str: {len(huge)} characters, sha256:{digest}> lorem ipsum")
    assert len(stored["corpus"]) < params.TEXT_PREFIX + 200
    assert stored["short"] == "x" * params.MAX_TEXT  # at the limit: kept whole


def test_tag_and_note_values_are_refused_when_they_cannot_be_stored(tracking):
    with mdb.start_run("tags") as run:
        with pytest.raises(ValidationError, match=r"tags\.team: must not contain NUL"):
            run.set_tag("team", "a\x00b")
        with pytest.raises(ValidationError, match=r"tags\.path: must not contain lone surrogates"):
            run.set_tag("path", "x\udcff")
        with pytest.raises(ValidationError, match="note: must not contain lone surrogates"):
            run.add_note("x\udcff")
        with pytest.raises(ValidationError, match=r"limit is 5000"):
            run.set_tag("long", "y" * 5001)


def test_integers_beyond_a_double_round_trip(tracking):
    with mdb.start_run("ints", params={"big": 10**30, "neg": -(2**70)}) as run:
        pass
    assert tracking.store.get_run_detail(run.id).params == {"big": 10**30, "neg": -(2**70)}


def test_metric_steps_are_bounded_whole_numbers(tracking):
    with mdb.start_run("steps") as run:
        for bad in (-1, 2**63, 1.5, "3", True):
            with pytest.raises(ValidationError, match=r"metrics\.loss step"):
                run.log_metric("loss", 0.1, step=bad)
        run.log_metric("loss", 0.1, step=2**62)
    assert tracking.store.metric_history(run.id, "loss")[0].step == 2**62


def test_timestamps_are_numbers_or_aware_datetimes_converted_once():
    moment = dt.datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert validation.timestamp("started_at", moment) == moment.timestamp()
    assert validation.timestamp("started_at", dt.datetime(2026, 12, 1, 13, 0, tzinfo=dt.timezone(
        dt.timedelta(hours=1)))) == moment.timestamp()
    assert validation.timestamp("started_at", 1_700_000_000) == 1_700_000_000.0
    assert validation.optional_timestamp("started_at", None) is None
    refused = {"2026-12-01": "text is not parsed", dt.datetime(2026, 12, 1): "timezone-aware",
               math.nan: "finite", -5: "between 0", 1_700_000_000_000: "milliseconds", True: "seconds since"}
    for value, problem in refused.items():
        with pytest.raises(ValidationError, match=problem) as raised:
            validation.timestamp("metrics.loss timestamp", value)
        assert raised.value.field == "metrics.loss timestamp"


def test_param_normalization_never_raises_and_always_gives_storable_json():
    class Weird:
        def __repr__(self):
            return "weird\x00\udcff password=hunter2"

    shown = params.normalize(Weird())
    assert "\x00" not in shown and "hunter2" not in shown and shown.startswith(params.ESCAPED)
    assert params.normalize({"k\x00": 1}) == {params.ESCAPED + "k\\u0000": 1}
    assert params.unescape(params.ESCAPED + "a\\\\u0000") == "a\\u0000"  # an escaped backslash stays one


def test_whole_mappings_are_checked_in_one_call():
    assert params.normalize_items({"cafe\u0301": 1, "db_password": "x", "url": "redis://:pw@h"}) == {
        "caf\u00e9": 1, "db_password": "***", "url": "redis://:***@h"}
    assert validation.tags({"o\u0308l": 3, "api_token": "t"}) == {"\u00f6l": "3", "api_token": "***"}
    with pytest.raises(ValidationError, match="params key"):
        params.normalize_items({"a\u200bb": 1})
