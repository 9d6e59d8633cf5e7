"""The filter language on its own: what parses, into what, and the errors users see."""
from __future__ import annotations

import pytest

from modeldb_core.errors import QueryError
from modeldb_core.query.fields import Field
from modeldb_core.query.language import (
    And, Compare, In, IsNull, Not, Or, SortKey, parse_field, parse_filter, parse_sort, parse_time,
)


def test_precedence_and_binds_tighter_than_or():
    node = parse_filter('status = "failed" or metrics.rmse < 1 and params.model = "rf"')
    assert isinstance(node, Or)
    assert isinstance(node.items[1], And)


def test_parentheses_and_not():
    node = parse_filter('not (tags.team = "a" or tags.team = "b") and metrics.acc >= .5')
    assert isinstance(node, And)
    assert isinstance(node.items[0], Not)
    assert node.items[1] == Compare(Field("metric", "acc"), ">=", 0.5, node.items[1].position)


def test_values_keys_and_keywords():
    node = parse_filter("PARAMS.\"learning rate\" IN (1, 2e-3, 'x', true) AND tags.`odd key` IS NOT NULL")
    assert node.items[0] == In(Field("param", "learning rate"), (1, 0.002, "x", True), False, 0)
    assert isinstance(node.items[1], IsNull) and node.items[1].negated
    assert parse_filter("metrics.val/loss<-1.5").value == -1.5
    assert parse_filter("metrics.a.b == 2").field == Field("metric", "a.b")
    assert parse_filter("tags.n = 5").value == "5"  # tags are text
    assert parse_filter('name = "it\\"s"').value == 'it"s'
    assert parse_filter("  ") is None and parse_filter(None) is None


def test_dates_become_utc_timestamps():
    node = parse_filter('started >= "2026-11-01"')
    assert node.value == parse_time("2026-11-01T00:00:00+00:00") == 1793491200.0
    assert parse_filter('ended < "2026-11-01T02:00:00+02:00"').value == 1793491200.0


@pytest.mark.parametrize("text, position, words", [
    ("metrics.rmse <", 14, "expected a value"),
    ("metrics.rmse 0.5", 13, "expected an operator"),
    ("bogus = 1", 0, "unknown field 'bogus'"),
    ("foo.bar = 1", 0, "unknown field 'foo.bar'"),
    ("(status = 'failed'", 18, "expected ')'"),
    ("status = 'failed')", 17, "unbalanced ')'"),
    ("status = 'done'", 9, "status is one of"),
    ("phase = 'train'", 8, "phase is one of"),
    ("metrics.rmse = 'low'", 15, "is a number"),
    ("metrics.rmse like 'x%'", 0, "only applies to text"),
    ("params.x = null", 11, "is null"),
    ("name = rf", 7, 'quote text values: "rf"'),
    ("'; drop table runs; --", 0, "unterminated string"),
    ("status = 'failed' and", 21, "expected a field"),
    ("status = 'failed' status", 18, "expected 'and', 'or'"),
    ("params.x in 1", 12, "expected '(' after 'in'"),
    ("params.x in (1 2)", 15, "expected ',' or ')'"),
    ("params.x is 3", 12, "expected 'null'"),
    ("started > 'last week'", 10, "is not a date"),
    ("duration = 'seven'", 11, "duration is a number"),
    ("status ~ 'x'", 7, "unexpected character '~'"),
    ("params. = 1", 7, "expected a key"),
])
def test_errors_point_at_the_problem(text, position, words):
    with pytest.raises(QueryError) as caught:
        parse_filter(text)
    assert caught.value.position == position
    assert words in str(caught.value)
    # The message shows the filter with a caret under the position.
    assert str(caught.value).splitlines()[-1] == "  " + " " * position + "^"


def test_sort_specs():
    assert parse_sort("-metrics.rmse, started asc") == [
        SortKey(Field("metric", "rmse"), True), SortKey(Field("attr", "started"), False)]
    assert parse_sort(["params.lr desc", "id"]) == [
        SortKey(Field("param", "lr"), True), SortKey(Field("attr", "id"), False)]
    assert parse_sort(None) == []
    with pytest.raises(QueryError, match="unknown field 'rmse'"):
        parse_sort("rmse")
    with pytest.raises(QueryError, match="end of the sort"):
        parse_sort("metrics.rmse downward")


def test_field_names():
    assert parse_field("params.model") == Field("param", "model")
    assert parse_field("started_at") == Field("attr", "started")
    assert str(Field("param", "learning rate")) == 'params."learning rate"'
    with pytest.raises(QueryError):
        parse_field("params.model extra")
