"""The filter language under fuzzing (Hypothesis): every input parses or is a QueryError with a position.

Inputs are drawn from the language's own tokens (fields, operators, keywords,
values, parentheses), glued with or without spaces, mixed with arbitrary
text: near-misses of valid filters are where a parser breaks. A sample of
them then runs against real stores: an answer, a QueryError or a timeout,
nothing else.
"""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modeldb_core.errors import QueryError, QueryTimeoutError
from modeldb_core.query import search_runs
from modeldb_core.query.language import parse_filter, parse_sort

FIELDS = ["params.model", "params.depth", "params.lr", "metrics.rmse", "metrics.r2", "tags.team",
          'params."learning rate"', "params.", "metrics.", "tag.x", "status", "phase", "id", "started",
          "ended", "duration", "project", "name", "error", "parent", "try_number", "nosuchfield",
          "params.a.b-c/d:e@f+g"]
OPERATORS = ["=", "==", "!=", "<>", "<", "<=", ">", ">=", "like", "not like", "in", "not in",
             "is null", "is not null", "is", "not"]
KEYWORDS = ["and", "or", "not", "AND", "Or", "NOT", "asc", "desc", "true", "false", "null"]
VALUES = ["0", "-1", "1.5", "1e309", "-1e309", ".5", "1.", "+3", "-", "inf", "-inf", "infinity", "nan",
          str(2**70), "9" * 30, '"rf"', "'gbm'", '"a\\"b"', '"unterminated', "'", '"%"', '"2026-11-01"',
          '"2026-13-45"', '"2026-11-01T14:30Z"', '"succeeded"', '"nope"', '""', "`x`", '"\\u0000"']
PUNCTUATION = ["(", ")", ",", "(", ")", "((", "))", "()"]

token = st.one_of(st.sampled_from(FIELDS), st.sampled_from(OPERATORS), st.sampled_from(KEYWORDS),
                  st.sampled_from(VALUES), st.sampled_from(PUNCTUATION),
                  st.text(max_size=4))
glue = st.sampled_from([" ", " ", " ", "", "\t", "\n"])


@st.composite
def filters(draw):
    parts = draw(st.lists(st.tuples(token, glue), max_size=30))
    text = "".join(t + g for t, g in parts)
    if draw(st.booleans()):
        # Deep or long shapes: the limits' side of the language.
        n = draw(st.integers(min_value=0, max_value=400))
        text = draw(st.sampled_from(["(", "not ", "(not "])) * n + text + ")" * draw(st.integers(0, n))
    return text


def _parses_or_points(text: str) -> None:
    for parse in (parse_filter, parse_sort):
        try:
            parse(text)
        except QueryError as exc:
            assert exc.position is not None, (parse.__name__, text, str(exc))
            assert 0 <= exc.position <= len(text)


@settings(max_examples=10_000, deadline=None, suppress_health_check=list(HealthCheck))
@given(filters())
def test_every_filter_parses_or_gets_a_query_error_with_a_position(text):
    _parses_or_points(text)


@settings(max_examples=2_000, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.text(max_size=200))
def test_arbitrary_text_parses_or_gets_a_query_error_with_a_position(text):
    _parses_or_points(text)


@pytest.fixture
def bounded_store(runs, store):
    from modeldb_core.store import deadline

    deadline.install(store.engine, 5.0)
    return store


def test_fuzzed_filters_run_on_both_databases(bounded_store):
    """Filters that parse run against the store: an answer or a clean error, each within the deadline."""
    seen = 0

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(filters(), st.sampled_from([None, "metrics.rmse", "-params.depth", "params.model, started"]))
    def run(text, order):
        nonlocal seen
        try:
            search_runs(text, order_by=order, limit=20, store=bounded_store)
        except (QueryError, QueryTimeoutError):
            pass
        seen += 1

    run()
    assert seen >= 300
