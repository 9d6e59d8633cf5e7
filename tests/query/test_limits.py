"""Query limits: refused before SQL is built, each error naming its limit; nothing crashes.

What issue 15 found: 35 sort keys made SQLite segfault (the whole process), 400
parentheses raised RecursionError, 2,000 'or' terms a "store unavailable", a
run id of 2**70 an OverflowError, 64 'is null' terms took 6 s on 50,000 runs.
"""
from __future__ import annotations

import sys

import pytest

from modeldb_core.errors import QueryError, ValidationError
from modeldb_core.query import build_query, group_runs, search_runs
from modeldb_core.query.language import (
    MAX_DEPTH, MAX_FILTER_LENGTH, MAX_SORT_KEYS, MAX_TERMS, MAX_VALUES, parse_filter, parse_sort,
)
from modeldb_core.validation import record_id


def _refused(fn, *limit_words):
    with pytest.raises(QueryError) as caught:
        fn()
    for word in limit_words:
        assert word in str(caught.value), str(caught.value)
    assert caught.value.position is not None
    assert len(str(caught.value)) < 600  # a window of the text, never all of it
    return caught.value


def test_sort_keys_beyond_the_limit_are_refused_by_name(runs, store):
    keys = ",".join(f"params.k{i}" for i in range(35))
    _refused(lambda: search_runs(order_by=keys, store=store), "MAX_SORT_KEYS", str(MAX_SORT_KEYS))
    _refused(lambda: search_runs(order_by=[f"params.k{i}" for i in range(35)], store=store), "MAX_SORT_KEYS")
    # The maximum itself sorts, on both databases.
    page = search_runs(order_by=[f"params.k{i}" for i in range(MAX_SORT_KEYS - 1)] + ["metrics.rmse"],
                       store=store)
    assert len(page.runs) == len(runs)


def test_grouping_cannot_reach_the_join_limit_another_way(runs, store):
    with pytest.raises(QueryError, match="MAX_GROUP_METRICS"):
        group_runs("params.model", metrics=[f"m{i}" for i in range(40)], store=store)


def test_deep_nesting_is_refused_at_the_opening_that_goes_too_deep():
    text = "(" * 400 + 'status = "failed"' + ")" * 400
    error = _refused(lambda: parse_filter(text), "MAX_DEPTH", str(MAX_DEPTH))
    assert error.position == MAX_DEPTH
    _refused(lambda: parse_filter("not " * 2000 + "id = 1"), "MAX_DEPTH")
    parse_filter("(" * MAX_DEPTH + "id = 1" + ")" * MAX_DEPTH)


def test_the_parser_never_recurses_past_a_small_bound():
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(200 + 4 * MAX_DEPTH)  # far below Python's 1,000
    try:
        for n in (10, 1_000, 50_000):
            for text in ("(" * n + "id = 1" + ")" * n, "not " * n + "id = 1", "(not " * n + "id = 1"):
                try:
                    parse_filter(text)
                except QueryError:
                    pass
    finally:
        sys.setrecursionlimit(old)


def test_too_many_conditions_and_values_are_refused():
    ors = " or ".join(f"params.k{i} is null" for i in range(MAX_TERMS + 1))
    assert len(ors) < MAX_FILTER_LENGTH
    error = _refused(lambda: parse_filter(ors), "MAX_TERMS", str(MAX_TERMS))
    assert ors[error.position:].startswith(f"params.k{MAX_TERMS}")
    many = "id in (" + ", ".join(str(i) for i in range(MAX_VALUES + 1)) + ")"
    _refused(lambda: parse_filter(many), "MAX_VALUES")
    parse_filter(" and ".join(f"params.k{i} is null" for i in range(MAX_TERMS)))


def test_a_filter_too_long_is_refused_before_it_is_read():
    _refused(lambda: parse_filter("x" * 1_000_000), "MAX_FILTER_LENGTH", "1,000,000")
    _refused(lambda: parse_sort("params." + "k" * 5000), "MAX_SORT_LENGTH")
    with pytest.raises(ValidationError, match="MAX_SEARCH"):
        build_query(search="x" * 5000)


def test_many_conditions_are_answered_on_both_databases(runs, store):
    """256 'is null' terms: every run lacks the keys, so every run matches (and quickly)."""
    text = " and ".join(f"params.k{i} is null" for i in range(MAX_TERMS))
    page = search_runs(text, limit=100, store=store)
    assert len(page.runs) == len(runs)
    negated = " and ".join(f"not params.k{i} = 3" for i in range(200)) + ' and params.model = "rf"'
    page = search_runs(negated, order_by="metrics.rmse", store=store)
    assert [r.run.name for r in page.runs] == ["rf-2", "rf-1", "rf-3"]
    # Run-column conditions stay usable next to the bundled ones.
    mixed = " and ".join(f"params.k{i} is null" for i in range(MAX_TERMS - 1)) + ' and status = "failed"'
    assert [r.run.name for r in search_runs(mixed, store=store).runs] == ["rf-3"]


@pytest.mark.parametrize("literal", [str(2**70), "-" + str(2**70), "9" * 5000])
def test_integers_beyond_64_bits_compare_without_overflow(runs, store, literal):
    for field in ("id", "try_number", "params.depth", "metrics.rmse", "parent"):
        page = search_runs(f"{field} = {literal}", store=store)
        assert page.runs == []
    bigger = search_runs(f"id < {str(2**70)}", store=store)
    assert len(bigger.runs) == len(runs)


@pytest.mark.parametrize("value, expected", [
    ("12", 12), (12, 12), ("0190f3a2-7c1b-7def-8123-456789abcdef", "0190f3a2-7c1b-7def-8123-456789abcdef"),
    ("DEADBEEF", "deadbeef"),
])
def test_ids_accepted_at_the_boundary(value, expected):
    assert record_id("run id", value) == expected


@pytest.mark.parametrize("value", [2**70, str(2**70), "9" * 5000, 0, -1, "-1", "abc", "1.5", "",
                                   "g" * 12, "a" * 37, True, None, 1.0, "12 OR 1=1"])
def test_ids_refused_at_the_boundary_name_the_field(value):
    with pytest.raises(ValidationError) as caught:
        record_id("run id", value)
    assert caught.value.field == "run id"
