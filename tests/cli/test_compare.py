"""``modeldb runs compare`` and the web's ``/api/compare`` and ``/compare`` page show one comparison
(``modeldb_core.query.compare``), on SQLite and PostgreSQL.

The runs are conftest.py's ``pricing`` project: two ``train`` runs on two versions of
``clean.csv`` with different ``lr``, the first also writing ``model_a.bin``.
"""
from __future__ import annotations

import json
import math



def test_cli_and_api_give_the_same_comparison(tracked, modeldb, web):
    ids = [tracked.train_a, tracked.train_b, tracked.evaluate]
    code, out, err = modeldb("--uri", tracked.uri, "runs", "compare", *ids, "--all", "--json")
    assert code == 0, err
    cli = json.loads(out)
    api = web.get("/api/compare", params={"ids": ids}).json()
    assert cli == api
    sections = list(dict.fromkeys(r["section"] for r in api["rows"]))
    assert sections == [s for s in ("run", "params", "metrics", "tags", "code", "environment", "packages",
                                    "inputs", "outputs") if s in sections]
    assert {"run", "params", "metrics", "inputs", "outputs"} <= set(sections)
    rows = {(r["section"], r["key"]): r for r in api["rows"]}
    assert rows[("params", "lr")]["values"] == [0.1, 0.2, None]
    assert rows[("metrics", "rmse")]["values"] == [0.8, 0.7, None]
    # One hash length everywhere: uri@ and 12 hex digits.
    data = rows[("inputs", "train_data")]["values"]
    assert data[0] != data[1] and all(len(v.rsplit("@", 1)[1]) == 12 for v in data[:2])
    assert not rows[("run", "duration")]["differs"] and not rows[("run", "started")]["differs"]
    assert api["differences"] == sum(r["differs"] for r in api["rows"])
    assert [r["id"] for r in api["runs"]] == ids

    # Without --all: the differing rows only, the same ones the page shows with only_differences.
    _, out, _ = modeldb("--uri", tracked.uri, "runs", "compare", *ids, "--json")
    differing = json.loads(out)["rows"]
    assert differing == [r for r in api["rows"] if r["differs"]]
    page = web.get("/compare", params={"ids": ids, "only_differences": "true"}).text
    for row in differing:
        assert f'data-section="{row["section"]}" data-key="{row["key"]}"' in page


def test_cli_table_and_page_show_values_alike(tracked, modeldb, web):
    """The text of a value (0.1, a duration, a hash) is the same in the terminal and the page."""
    from modeldb_core.query.compare import compare_in
    from modeldb_core.store import open_store

    ids = [tracked.train_a, tracked.train_b]
    code, out, _ = modeldb("--uri", tracked.uri, "runs", "compare", *ids, "--all")
    assert code == 0
    page = web.get("/compare", params={"ids": ids}).text
    store = open_store(tracked.uri)
    try:
        comparison = compare_in(store, ids)
    finally:
        store.close()
    duration = next(r for r in comparison.rows if r.key == "duration").texts()[0]
    assert duration.endswith(("ms", " s")) and duration in page
    for row in comparison.rows:
        if row.section in ("params", "metrics", "inputs"):
            for text in row.texts():
                # A terminal cell keeps both ends of a long value (the hash is at the end).
                assert (text if len(text) <= 48 else text[-20:]) in out and text in page, (row.key, text)


def test_nan_is_the_same_value_on_both_sides(store_uri, modeldb):
    import modeldb_core
    from modeldb_core import start_run

    client = modeldb_core.configure(uri=store_uri)
    try:
        ids = []
        for lr in (0.1, 0.2):
            with start_run("fit", project="nan", params={"lr": lr}, parent=None) as run:
                run.log_metric("calibration", math.nan)
                ids.append(run.id)
    finally:
        client.close()
    code, out, _ = modeldb("--uri", store_uri, "runs", "compare", *ids, "--json")
    assert code == 0
    rows = {(r["section"], r["key"]) for r in json.loads(out)["rows"]}
    assert ("params", "lr") in rows and ("metrics", "calibration") not in rows
    code, out, _ = modeldb("--uri", store_uri, "runs", "compare", *ids, "--all")
    assert "NaN" in out


def test_a_comparison_needs_two_runs_and_at_most_twelve(tracked, modeldb, web):
    code, _, err = modeldb("--uri", tracked.uri, "runs", "compare", tracked.train_a, tracked.train_a)
    assert code == 1 and "at least two different runs" in err
    assert web.get("/api/compare", params={"ids": [tracked.train_a] * 2}).status_code == 400
    code, _, err = modeldb("--uri", tracked.uri, "runs", "compare", *[tracked.train_a] * 13)
    assert code == 1 and "at most 12 runs" in err
    assert web.get("/api/compare", params={"ids": [tracked.train_a] * 13}).status_code == 400
