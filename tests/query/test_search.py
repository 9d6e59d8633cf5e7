"""search_runs / group_runs / stream_runs on a real SQLite file and a real PostgreSQL database."""
from __future__ import annotations

import math

import pytest
from sqlalchemy import event, inspect

from modeldb_core import search_runs
from modeldb_core.errors import QueryError, ValidationError
from modeldb_core.query import best_run, group_runs, stream_runs
from modeldb_core.query.records import RunRecord


def names(page) -> list[str]:
    return [r.name for r in page]


def test_the_issue_example_filter(store, runs):
    page = search_runs('metrics.rmse < 0.9 and params.model = "rf" and phase = "training" '
                       'and tags.team = "pricing" and status = "succeeded" and started >= "2026-11-01"',
                       order_by="metrics.rmse", store=store)
    assert names(page) == ["rf-2", "rf-1"]
    first = page.runs[0]
    assert isinstance(first, RunRecord)
    assert first.params == {"model": "rf", "depth": 10, "lr": 0.05}
    assert first.metrics == {"rmse": 0.70, "r2": 0.8}
    assert first.tags == {"team": "pricing"}
    assert first.run.project == "pricing"


def test_params_compare_numerically_when_both_sides_are_numbers(store, runs):
    # As text "10" < "9"; as numbers 10 > 9.
    assert names(search_runs("params.depth > 9", order_by="params.depth", store=store)) == ["rf-2", "rf-3"]
    assert names(search_runs("params.depth = 10", store=store)) == ["rf-2"]
    # A text value of the same param is compared as text, not dropped silently.
    assert names(search_runs('params.depth = "none"', store=store)) == ["linear"]


def test_a_text_matches_string_params_and_the_text_of_numbers(store, runs):
    # Strings and numbers are indexed apart (revision 0013); a text finds both as before.
    assert names(search_runs('params.depth = "10"', store=store)) == ["rf-2"]
    assert set(names(search_runs('params.depth in ("none", "12", "x")', store=store))) == {"linear", "rf-3"}
    assert set(names(search_runs('params.model = "rf"', store=store))) == {"rf-1", "rf-2", "rf-3"}
    assert set(names(search_runs('params.depth != "10" and params.depth = "none"', store=store))) == {"linear"}
    assert names(search_runs('params.depth = "inf"', store=store)) == []


@pytest.mark.parametrize("text, expected", [
    ('params.model like "r%"', {"rf-1", "rf-2", "rf-3", "RF-upper"}),  # like ignores case
    ('params.model not like "r%"', {"gbm-1", "gbm-2", "linear"}),
    ('params.model in ("gbm", "linear")', {"gbm-1", "gbm-2", "linear"}),
    ('params.model not in ("gbm", "linear", "rf")', {"RF-upper"}),
    ("params.lr is null", {"rf-3", "gbm-2", "RF-upper", "linear", "prep"}),
    ("params.lr is not null", {"rf-1", "rf-2", "gbm-1"}),
    ("metrics.r2 is null", {"rf-3", "gbm-2", "RF-upper", "linear", "prep"}),
    ("metrics.rmse >= 0.8 and metrics.rmse <= 1.2", {"rf-1", "rf-3", "linear"}),
    ("metrics.rmse != 0.8", {"rf-2", "rf-3", "gbm-1", "RF-upper", "linear"}),
    ("metrics.rmse = nan", {"gbm-2"}),
    ('tags.team = "risk" or (project = "churn" and phase = "data_prep")', {"gbm-2", "prep"}),
    ('not (status = "succeeded")', {"rf-3"}),
    ('name like "%upper"', {"RF-upper"}),
    ('started < "2026-11-01T00:00:00Z"', {"gbm-1"}),
    ("duration = 60 and id > 0", {"rf-1", "rf-2", "rf-3", "gbm-1", "gbm-2", "RF-upper", "linear", "prep"}),
    ("tags.note is not null", {"linear"}),
    ('project in ("churn")', {"linear", "prep"}),
    ("pipeline is not null or error is not null or parent is not null", set()),
    ('pipeline = "nightly"', set()),
])
def test_operators(store, runs, text, expected):
    assert set(names(search_runs(text, store=store))) == expected


def test_not_matches_runs_without_the_field_whether_sorted_on_or_not(store, runs):
    expected = {"rf-1", "rf-3", "gbm-2", "RF-upper", "linear", "prep"}
    assert set(names(search_runs("not (metrics.r2 > 0.75)", store=store))) == expected
    assert set(names(search_runs("not (metrics.r2 > 0.75)", order_by="metrics.r2", store=store))) == expected
    assert set(names(search_runs("not (params.model = 'rf' or ended > 0)", store=store))) == set()


def test_sort_several_keys_and_missing_values_last(store, runs):
    asc = names(search_runs("project = 'pricing'", order_by="metrics.r2", store=store))
    assert asc[:3] == ["rf-1", "rf-2", "gbm-1"]
    assert set(asc[3:]) == {"rf-3", "gbm-2", "RF-upper"}  # no r2: last
    desc = names(search_runs("project = 'pricing'", order_by="-metrics.r2", store=store))
    assert desc[:3] == ["gbm-1", "rf-2", "rf-1"]
    # NaN is "missing" for sorting, in both directions.
    by_rmse = names(search_runs("metrics.rmse is not null", order_by="metrics.rmse desc", store=store))
    assert by_rmse == ["linear", "rf-3", "rf-1", "rf-2", "gbm-1", "RF-upper", "gbm-2"]
    two_keys = names(search_runs(None, order_by=["params.model", "-started"], store=store))
    assert two_keys[:4] == ["RF-upper", "gbm-2", "gbm-1", "linear"]
    assert two_keys[-1] == "prep"
    default = names(search_runs(store=store))
    assert default[0] == "prep" and default[-1] == "rf-1"  # newest id first


def test_cursor_pagination_covers_every_run_once(store, runs):
    seen, cursor = [], None
    for _ in range(10):
        page = search_runs(None, order_by="metrics.rmse", limit=3, cursor=cursor, store=store)
        seen += names(page)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted(runs) and len(seen) == len(runs)
    first = search_runs(None, order_by="metrics.rmse", limit=3, store=store)
    with pytest.raises(QueryError, match="different search"):
        search_runs("status = 'failed'", order_by="metrics.rmse", limit=3, cursor=first.next_cursor,
                    store=store)
    with pytest.raises(QueryError, match="not a cursor"):
        search_runs(None, cursor="%%%not-a-cursor", store=store)


def test_free_text_search_over_names_notes_and_tags(store, runs):
    assert names(search_runs(search="HOLIDAY", store=store)) == ["linear"]  # a note
    assert set(names(search_runs(search="risk", store=store))) == {"gbm-2"}  # a tag value
    assert set(names(search_runs(search="gbm", store=store))) == {"gbm-1", "gbm-2"}  # names
    assert names(search_runs(search="100%", store=store)) == []  # % is literal text here
    assert names(search_runs("project = 'churn'", search="base", store=store)) == ["linear"]


def test_group_by_param_with_metric_stats(store, runs):
    groups = {g.value: g for g in group_runs("params.model", "project = 'pricing'", metrics=["rmse", "r2"],
                                             store=store)}
    assert set(groups) == {"rf", "gbm", "RF"}
    rf = groups["rf"]
    assert rf.count == 3
    assert rf.metrics["rmse"].count == 3
    assert rf.metrics["rmse"].min == pytest.approx(0.70)
    assert rf.metrics["rmse"].max == pytest.approx(0.95)
    assert rf.metrics["rmse"].mean == pytest.approx((0.8 + 0.7 + 0.95) / 3)
    assert rf.metrics["r2"].count == 2
    assert groups["gbm"].metrics["rmse"].count == 1  # the NaN is not averaged in
    by_tag = {g.value: g.count for g in group_runs("tags.team", store=store)}
    assert by_tag == {"pricing": 4, "risk": 1, "churn": 1, None: 2}
    by_status = {g.value: g.count for g in group_runs("status", metrics="metrics.rmse", store=store)}
    assert by_status == {"failed": 1, "succeeded": 7}
    with pytest.raises(QueryError, match="cannot group by"):
        group_runs("metrics.rmse", store=store)


def test_best_run_ignores_nan_and_missing(store, runs):
    assert best_run("rmse", store=store).name == "RF-upper"
    assert best_run("metrics.rmse", maximize=True, store=store).name == "linear"
    assert best_run("rmse", filter="params.model = 'rf'", store=store).name == "rf-2"
    assert best_run("no_such_metric", store=store) is None


def test_stream_runs_yields_every_match_in_order(store, runs):
    streamed = [r.name for r in stream_runs("metrics.rmse > 0", order_by="metrics.rmse", batch=2,
                                            store=store)]
    paged = names(search_runs("metrics.rmse > 0", order_by="metrics.rmse", store=store))
    assert streamed == paged and len(streamed) == 6


def test_one_statement_for_the_runs_and_one_per_table_for_their_values(store, runs):
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        page = search_runs('metrics.rmse < 2 and params.model != "x"', order_by="metrics.rmse",
                           store=store)
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    assert len(page) == 6
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    # the runs, then params, latest metrics and tags of the page: never one per run.
    assert len(selects) == 4
    assert "rmse" not in selects[0]  # keys and values are bound parameters, not SQL text


@pytest.mark.parametrize("text", [
    "'; drop table runs; --",
    '"; drop table runs; --',
    "name = 'x'; drop table runs; --",
    "status = 'succeeded' or 1=1",
    "metrics.rmse < 1) or (1",
    "runs.id = 1",
    "params.model = rf",
])
def test_injection_looking_input_is_a_parse_error_and_changes_nothing(store, runs, text):
    with pytest.raises(QueryError) as caught:
        search_runs(text, store=store)
    assert caught.value.position is not None
    assert "runs" in inspect(store.engine).get_table_names()
    assert len(search_runs(store=store)) == len(runs)


def test_quotes_in_values_are_just_text(store, runs):
    assert names(search_runs("name = \"x'; drop table runs; --\"", store=store)) == []
    assert len(search_runs(store=store)) == len(runs)


def test_limit_is_checked(store):
    with pytest.raises(ValidationError, match="limit"):
        search_runs(limit=0, store=store)


def test_dataframe(store, runs):
    frame = search_runs("params.model = 'rf'", order_by="metrics.rmse", store=store).to_dataframe()
    assert list(frame["name"]) == ["rf-2", "rf-1", "rf-3"]
    assert list(frame["metrics.rmse"]) == [0.70, 0.80, 0.95]
    assert math.isnan(frame["metrics.r2"].iloc[2])


@pytest.mark.parametrize("order", ["metrics.r2", "-metrics.r2", "tags.team", "-tags.team"])
def test_sorting_on_a_field_some_runs_lack_pages_consistently(store, runs, order):
    whole = names(search_runs(order_by=order, limit=100, store=store))
    assert sorted(whole) == sorted(runs)
    field = order.lstrip("-")
    kind, key = field.split(".")
    have = [n for n in whole if key in getattr(search_runs(f"name = '{n}'", store=store).runs[0], kind)]
    assert whole[:len(have)] == have  # runs with a value first, then the rest
    for size in (1, 2, 3):
        paged, cursor = [], None
        while True:
            page = search_runs(order_by=order, limit=size, cursor=cursor, store=store)
            paged += names(page)
            cursor = page.next_cursor
            if cursor is None:
                break
        assert paged == whole


@pytest.mark.parametrize("order", ["params.depth", "-params.depth"])
@pytest.mark.parametrize("where", [None, "project = 'pricing'", "metrics.rmse > 0.55", "params.depth >= 4"])
def test_a_param_sort_pages_through_numbers_then_text_then_missing(store, runs, order, where):
    """Sorted on a param, pages come from three statements (numbers by the index, then text
    values, then runs without it): every page size must give the one order of a single pass."""
    from modeldb_core.query import stream_runs

    whole = [r.run.name for r in stream_runs(where, order_by=order, store=store)]
    for size in (1, 2, 3, 4):
        paged, cursor = [], None
        while True:
            page = search_runs(where, order_by=order, limit=size, cursor=cursor, store=store)
            paged += names(page)
            if (cursor := page.next_cursor) is None:
                break
        assert paged == whole, f"pages of {size}"
    if where == "params.depth >= 4":  # every row has a number: sorted by it alone
        assert whole == (["gbm-2", "rf-1", "rf-2", "rf-3"] if order == "params.depth"
                         else ["rf-3", "rf-2", "rf-1", "gbm-2"])
    if where is None:
        numbers = ["gbm-1", "gbm-2", "rf-1", "rf-2", "rf-3"]
        expected = (numbers + ["linear", "RF-upper", "prep"] if order == "params.depth"
                    else numbers[::-1] + ["linear", "prep", "RF-upper"])
        assert whole == expected
