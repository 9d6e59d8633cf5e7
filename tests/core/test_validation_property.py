"""Property: every value handed to a public logging call is either refused with a clean
``ValidationError`` or stored so that it reads back identically, on SQLite and PostgreSQL.

"Identically" is the documented rule: a param reads back as ``params.normalize(value)`` — the
value itself for JSON-plain values within the limits —, a key as its NFC form, a tag or note as
given (with the secrets rule of ``redaction``), a metric as the same float (NaN included).
"""
from __future__ import annotations

import math
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import modeldb_core as mdb
from modeldb_core import params, redaction
from modeldb_core.errors import ValidationError

# Any code point, lone surrogates and NUL included: what os.listdir, a CSV or a user can hand us.
ANY_CHAR = st.characters(codec=None, exclude_categories=[])
TEXT = st.text(ANY_CHAR, max_size=40) | st.text(max_size=6000)
KEYS = st.text(ANY_CHAR, min_size=0, max_size=260) | st.sampled_from(["lr", "cafe\u0301", "a\u200bb", " x"])
INTS = st.integers() | st.integers(min_value=-(2**63), max_value=2**63)
FLOATS = st.floats(allow_nan=True, allow_infinity=True)
JSONISH = st.recursive(
    st.none() | st.booleans() | INTS | FLOATS | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(ANY_CHAR, max_size=8), inner, max_size=4),
    max_leaves=12)
PARAM_VALUES = JSONISH | st.tuples(INTS, TEXT) | st.frozensets(st.integers(), max_size=4)

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large])


@pytest.fixture(params=["sqlite", "postgres"])
def client(request, tmp_path_factory):
    if request.param == "sqlite":
        uri = f"sqlite:///{tmp_path_factory.mktemp('prop') / 'modeldb.db'}"
    else:
        uri = request.getfixturevalue("postgres_server").new_database()
    client = mdb.configure(uri=uri)
    yield client
    client.close()


def _nfc(key: str) -> str:
    return unicodedata.normalize("NFC", key)


def _refused(error: ValidationError, *fields: str) -> None:
    assert error.field.split(".")[0] in fields or error.field in fields, error.field
    assert str(error).startswith(error.field)


def _plain(value) -> bool:
    """JSON-plain, storable and within the limits: must read back as exactly itself."""
    if value is None or isinstance(value, (bool, int, float)):
        return True
    if isinstance(value, str):
        return ("\x00" not in value and not any(0xD800 <= ord(c) <= 0xDFFF for c in value)
                and len(value) <= params.MAX_TEXT and redaction.redact_text(value) == value)
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(_plain(k) and not redaction.is_secret_key(k) and _plain(v) for k, v in value.items())
    return False


@SETTINGS
@given(key=KEYS, value=PARAM_VALUES)
def test_params(client, key, value):
    try:
        run = mdb.start_run("prop-param", params={key: value}, parent=None)
    except ValidationError as error:
        _refused(error, "params key")
        return
    run.end()
    expected = params.normalize(value)
    stored = client.store.get_run_detail(run.id).params
    assert list(stored) == [_nfc(key)]
    if redaction.is_secret_key(key):  # masked once run.py passes the key (docs/security.md)
        assert stored[_nfc(key)] in (expected, redaction.MASK)
        return
    assert params.same(stored[_nfc(key)], expected)
    if _plain(value):
        assert params.same(stored[_nfc(key)], value)


@SETTINGS
@given(key=KEYS, value=TEXT | INTS)
def test_tags(client, key, value):
    with mdb.start_run("prop-tag", parent=None) as run:
        try:
            run.set_tag(key, value)
        except ValidationError as error:
            _refused(error, "tags key", "tags")
            return
    stored = client.store.get_run_detail(run.id).tags
    expected = redaction.MASK if redaction.is_secret_key(_nfc(key)) else redaction.redact_text(str(value))
    assert stored == {_nfc(key): expected}


@SETTINGS
@given(key=KEYS, value=FLOATS | INTS | st.sampled_from([True, "1.0", None]),
       step=st.none() | INTS, timestamp=st.floats(min_value=1, max_value=4e9))
def test_metrics(client, key, value, step, timestamp):
    with mdb.start_run("prop-metric", parent=None) as run:
        try:
            run.log_metric(key, value, step=step, timestamp=timestamp)
        except ValidationError as error:
            _refused(error, "metrics key", "metrics")
            return
    # Under its NFC form once log_metric keeps what validation.key returns (docs/security.md).
    [point] = client.store.metric_history(run.id, _nfc(key)) or client.store.metric_history(run.id, key)
    assert point.step == (0 if step is None else step) and point.timestamp == timestamp
    assert (math.isnan(point.value) and math.isnan(value)) or point.value == float(value)


@SETTINGS
@given(name=TEXT, note=TEXT, uri=TEXT)
def test_run_names_notes_and_uris(client, name, note, uri):
    try:
        run = mdb.start_run(name, parent=None)
    except ValidationError as error:
        _refused(error, "run name")
        return
    with run:
        try:
            run.add_note(note)
            noted = True
        except ValidationError as error:
            _refused(error, "note")
            noted = False
        try:
            version = run.log_output(f"s3://bucket/{uri}")
        except ValidationError as error:
            _refused(error, "artifact uri")
            version = None
    detail = client.store.get_run_detail(run.id)
    assert detail.run.name == (name or "run")  # start_run's documented default
    if noted:
        assert [n.text for n in detail.notes] in ([note], [redaction.redact_text(note)])
    assert [o.artifact.uri for o in detail.outputs] == ([version.uri] if version else [])
