"""The CLI forgives: hints for names that match nothing, prefixes and bare keys, paths and hash prefixes.

Against real SQLite and PostgreSQL stores (the ``tracked`` project of conftest.py).
"""
from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime

import pytest

from modeldb_core.cli import output


def test_a_misspelt_metric_in_a_filter_names_the_metric_that_exists(tracked, modeldb):
    code, out, err = modeldb("--uri", tracked.uri, "runs", "list", "-f", "metrics.rsme < 30")
    assert code == 0 and out == "No runs match.\n"
    assert "no run has a metric named 'rsme' (did you mean metrics.rmse?)" in err
    # The same key as another kind: a param that does not exist, a metric that does.
    _, _, err = modeldb("--uri", tracked.uri, "runs", "list", "-f", "params.rmse > 0")
    assert "no run has a param named 'rmse' (did you mean metrics.rmse" in err
    _, _, err = modeldb("--uri", tracked.uri, "runs", "list", "-f", 'tags.taem = "pricing"')
    assert "no run has a tag named 'taem' (did you mean tags.team?)" in err
    # A key that exists gets no note, even when nothing matches.
    code, out, err = modeldb("--uri", tracked.uri, "runs", "list", "-f", "metrics.rmse < 0.1")
    assert (code, out, err) == (0, "No runs match.\n", "")


def test_an_unknown_project_names_the_projects_that_exist(tracked, modeldb):
    code, out, err = modeldb("--uri", tracked.uri, "runs", "list", "-p", "pricin")
    assert code == 0 and out == "No runs match.\n"
    assert "no project named 'pricin' (did you mean 'pricing'?)" in err
    _, out, err = modeldb("--uri", tracked.uri, "runs", "list", "-p", "zzz-nothing-like-it", "--json")
    assert json.loads(out) == []
    assert "no project named 'zzz-nothing-like-it' (projects: churn, pricing)" in err
    code, _, err = modeldb("--uri", tracked.uri, "best", "-m", "rmse", "-p", "Pricing")
    assert code == 1 and "no project named 'Pricing' (did you mean 'pricing'?)" in err


def test_a_bare_key_in_a_filter_is_an_error_that_suggests_the_field(tracked, modeldb):
    code, out, err = modeldb("--uri", tracked.uri, "runs", "list", "-f", "rmse < 1")
    assert code == 1 and out == ""
    assert err.startswith("Error: unknown field 'rmse' (did you mean metrics.rmse?) at position 0")
    assert err.rstrip().endswith("^")


def test_best_takes_the_prefix_and_hints_a_misspelt_metric(tracked, modeldb):
    _, plain, _ = modeldb("--uri", tracked.uri, "best", "-m", "rmse", "--json")
    _, prefixed, _ = modeldb("--uri", tracked.uri, "best", "-m", "metrics.rmse", "--json")
    assert json.loads(plain)["id"] == json.loads(prefixed)["id"] == tracked.train_b
    code, out, _ = modeldb("--uri", tracked.uri, "best", "--metric", "metrics.rmse")
    assert code == 0 and out.startswith(f"Best run by rmse (lowest): run {tracked.train_b} train")
    code, _, err = modeldb("--uri", tracked.uri, "best", "-m", "rsme")
    assert code == 1 and err == "Error: no run has a metric named 'rsme' (did you mean metrics.rmse?)\n"
    code, _, err = modeldb("--uri", tracked.uri, "best", "-m", "params.lr")
    assert code == 2 and "'params.lr' is not a metric" in err


def test_group_by_and_aggregates_take_prefixes_and_bare_keys(tracked, modeldb):
    base = ("--uri", tracked.uri, "runs", "list", "--json", "--group-by")
    _, prefixed, _ = modeldb(*base, "params.model", "-m", "metrics.rmse")
    _, bare, _ = modeldb(*base, "model", "-m", "rmse")
    assert json.loads(prefixed) == json.loads(bare)
    groups = {g["params.model"]: g for g in json.loads(prefixed)}
    assert groups["rf"]["rmse.min"] == 0.7 and groups["rf"]["rmse.max"] == 0.8
    assert groups["rf"]["rmse.count"] == 2
    code, out, err = modeldb("--uri", tracked.uri, "runs", "list", "--group-by", "model", "-m", "rsme")
    assert code == 0 and "no run has a metric named 'rsme' (did you mean metrics.rmse?)" in err
    code, _, err = modeldb("--uri", tracked.uri, "runs", "list", "--group-by", "modle")
    assert code == 1 and "unknown field 'modle' (did you mean params.model?)" in err


def test_columns_take_bare_keys_and_misspelt_ones_are_named(tracked, modeldb):
    _, out, _ = modeldb("--uri", tracked.uri, "runs", "list", "--csv", "-c", "rmse", "-c", "params.lr")
    header = out.splitlines()[0].split(",")
    assert header[-2:] == ["metrics.rmse", "params.lr"]
    code, _, err = modeldb("--uri", tracked.uri, "runs", "list", "-c", "metrics.rmsee")
    assert code == 0 and "no run has a metric named 'rmsee' (did you mean metrics.rmse?)" in err


@pytest.mark.parametrize("command", [["runs", "list"], ["projects", "list"], ["artifacts", "list"]])
def test_conflicting_output_flags_are_an_error(tracked, modeldb, command):
    code, out, err = modeldb("--uri", tracked.uri, *command, "--json", "--csv")
    assert code == 2 and out == ""
    assert "--json and --csv cannot be used together" in err
    code, out, _ = modeldb("--uri", tracked.uri, *command, "--csv")
    assert code == 0 and "," in out.splitlines()[0]


def test_lineage_json_and_another_format_conflict(tracked, modeldb):
    code, _, err = modeldb("--uri", tracked.uri, "lineage", str(tracked.evaluate), "--json",
                           "--format", "dot")
    assert code == 2 and "--json and --format dot cannot be used together" in err
    code, out, _ = modeldb("--uri", tracked.uri, "lineage", str(tracked.evaluate), "--json",
                           "--format", "json")
    assert code == 0 and json.loads(out)["root"] == f"run:{tracked.evaluate}"


def _keys(value, found: set) -> set:
    if isinstance(value, dict):
        for k, v in value.items():
            found.add(k)
            if k not in ("params", "metrics", "tags", "metadata", "packages"):
                _keys(v, found)
    elif isinstance(value, list):
        for v in value:
            _keys(v, found)
    return found


def _is_iso_with_zone(text) -> bool:
    return isinstance(text, str) and datetime.fromisoformat(text).utcoffset() is not None


def test_json_has_snake_case_keys_and_iso_times_with_a_zone(tracked, modeldb):
    outputs = {}
    for name, args in {"runs": ["runs", "list", "--json"],
                       "show": ["runs", "show", str(tracked.train_a), "--json"],
                       "best": ["best", "-m", "rmse", "--json"],
                       "projects": ["projects", "list", "--json"],
                       "artifacts": ["artifacts", "list", "--json"]}.items():
        code, out, _ = modeldb("--uri", tracked.uri, *args)
        assert code == 0, name
        outputs[name] = json.loads(out)
    for name, data in outputs.items():
        for key in _keys(data, set()):
            assert re.fullmatch(r"[a-z][a-z0-9_]*", key), (name, key)
    run = next(r for r in outputs["runs"] if r["id"] == tracked.train_a)
    assert _is_iso_with_zone(run["started_at"]) and _is_iso_with_zone(run["ended_at"])
    assert isinstance(run["duration"], float)
    assert _is_iso_with_zone(outputs["best"]["started_at"])
    show = outputs["show"]
    assert _is_iso_with_zone(show["run"]["started_at"])
    assert all(_is_iso_with_zone(m["timestamp"]) for m in show["metric_history"]["rmse"])
    assert _is_iso_with_zone(show["notes"][0]["created_at"])
    assert _is_iso_with_zone(show["inputs"][0]["created_at"])
    pricing = next(p for p in outputs["projects"] if p["name"] == "pricing")
    assert _is_iso_with_zone(pricing["last_activity"]) and _is_iso_with_zone(pricing["created_at"])
    assert pricing["metrics"] == ["auc", "rmse"]
    assert all(_is_iso_with_zone(a["created_at"]) for a in outputs["artifacts"])
    # Parsed back, the time is the one recorded (to the microsecond).
    from modeldb_core.store import open_store

    store = open_store(tracked.uri)
    try:
        recorded = store.get_run(tracked.train_a).started_at
    finally:
        store.close()
    assert datetime.fromisoformat(run["started_at"]).timestamp() == pytest.approx(recorded, abs=1e-5)


def test_runs_show_lines_every_value_up_on_one_column(tracked, modeldb):
    _, out, _ = modeldb("--uri", tracked.uri, "runs", "show", str(tracked.train_a))
    value_columns = set()
    for line in out.splitlines():
        match = re.match(r"^  (\S(?:.*?\S)?)(\s{2,})(\S.*)$", line)
        if match and not line.startswith("  ["):
            value_columns.add(len(match.group(1)) + len(match.group(2)))
    assert len(value_columns) == 1, out
    assert re.search(r"^  duration +\d+ ms$", out, re.M), out
    assert re.search(r"^  started +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$", out, re.M)


@pytest.mark.parametrize("seconds, shown", [
    (0.0123, "12 ms"), (0.9994, "999 ms"), (4.25, "4.2 s"), (59.9, "59.9 s"), (187, "3 min 07 s"),
    (7500, "2 h 05 min"), (3 * 86400 + 4 * 3600 + 10, "3 d 4 h"), (None, ""),
])
def test_durations_read_at_a_glance(seconds, shown):
    assert output.duration(seconds) == shown


def test_runs_list_shows_readable_durations_and_csv_keeps_seconds(tracked, modeldb):
    _, out, _ = modeldb("--uri", tracked.uri, "runs", "list")
    durations = [line.split("  ")[-1].strip() for line in out.splitlines()[2:]]
    assert all(re.fullmatch(r"\d+ ms|\d+\.\d s", d) for d in durations), durations
    _, out, _ = modeldb("--uri", tracked.uri, "runs", "list", "--csv")
    rows = [line.split(",") for line in out.splitlines()]
    assert rows[0][-1] == "duration" and all(float(r[-1]) >= 0 for r in rows[1:])


def test_lineage_takes_a_plain_path_and_a_hash_prefix(tracked, modeldb, monkeypatch, tmp_path):
    _, out, _ = modeldb("--uri", tracked.uri, "lineage", "file://" + tracked.raw_path, "--down", "--json")
    expected = json.loads(out)
    monkeypatch.chdir(tmp_path)  # raw.csv is in tmp_path: a relative path, as a user types it
    _, out, _ = modeldb("--uri", tracked.uri, "lineage", "raw.csv", "--down", "--json")
    assert json.loads(out) == expected
    _, out, _ = modeldb("--uri", tracked.uri, "artifacts", "list", "--search", "raw.csv")
    (line,) = out.splitlines()[2:]
    printed = re.search(r"  ([0-9a-f]{12})  ", line).group(1)  # the 12 characters the CLI prints
    _, out, _ = modeldb("--uri", tracked.uri, "lineage", printed, "--down", "--json")
    assert json.loads(out) == expected
    _, out, _ = modeldb("--uri", tracked.uri, "lineage", printed[:6], "--down", "--json")
    assert json.loads(out) == expected
    code, out, _ = modeldb("--uri", tracked.uri, "artifacts", "show", printed, "--json")
    assert code == 0 and json.loads(out)[0]["uri"] == "file://" + tracked.raw_path
    code, _, err = modeldb("--uri", tracked.uri, "lineage", "no/such/file.csv")
    assert code == 1 and err.startswith("Error: no run or artifact")


def test_an_ambiguous_hash_prefix_lists_the_contents_it_matches(store_uri, modeldb, tmp_path):
    import modeldb_core

    # Two contents whose SHA-256 share their first 4 hex digits (a birthday search: a few hundred tries).
    seen: dict[str, bytes] = {}
    for i in range(100_000):
        content = f"row {i}\n".encode()
        prefix = hashlib.sha256(content).hexdigest()[:4]
        if prefix.isdigit():
            continue  # all digits names a run first
        if prefix in seen:
            pair = (seen[prefix], content)
            break
        seen[prefix] = content
    paths = []
    for i, content in enumerate(pair):
        path = tmp_path / f"part{i}.csv"
        path.write_bytes(content)
        paths.append(path)
    client = modeldb_core.configure(uri=store_uri)
    try:
        with modeldb_core.start_run("read", project="p", parent=None) as run:
            for path in paths:
                run.log_input(str(path))
    finally:
        client.close()
    code, _, err = modeldb("--uri", store_uri, "lineage", prefix, "--down")
    assert code == 1 and "matches 2 different contents" in err and "give more characters" in err
    assert "part0.csv" in err and "part1.csv" in err
    longer = hashlib.sha256(pair[1]).hexdigest()[:12]
    code, out, _ = modeldb("--uri", store_uri, "lineage", longer, "--down", "--json")
    assert code == 0 and any("part1.csv" in n["label"] for n in json.loads(out)["nodes"])
