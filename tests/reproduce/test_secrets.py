"""Arguments redacted when recorded (a secret, a URI's password) are given again on the
command line (``--set``) or from the environment (``--set-env``); without them the
reproduction is refused, naming each one."""
from __future__ import annotations

import json


def test_redacted_arguments_are_refused_until_given_again(project, modeldb, monkeypatch):
    project.run("fetch('data.txt', 'out/fetched.txt', 'postgresql://app:pw-1@db/sales', 'tok-9')")
    run_id = project.last_run("fetch")

    code, out, _ = modeldb("--uri", project.uri, "reproduce", run_id, "--dry-run", "--json")
    problems = [b["problem"] for b in json.loads(out)["blockers"]]
    assert sorted(problems) == ["argument 'api_token' is a secret: its value was not recorded",
                                "argument 'db_uri' was redacted when recorded (it holds a secret: "
                                "postgresql://app:***@db/sales)"]

    code, out, err = modeldb("--uri", project.uri, "reproduce", run_id)
    assert code != 0
    assert "db_uri" in out + err and "api_token" in out + err and "--set-env api_token=ENV_VAR" in out + err

    code, out, err = modeldb("--uri", project.uri, "reproduce", run_id, "--set", "db_uri=postgresql://app:pw-1@db/sales")
    assert code != 0 and "api_token" in out + err and "'db_uri'" not in out + err  # one given, one still missing

    code, out, err = modeldb("--uri", project.uri, "reproduce", run_id, "--set", "dbb_uri=x")
    assert code != 0 and "dbb_uri" in out + err and "it takes: api_token, data_path, db_uri, out_path" in out + err

    code, out, err = modeldb("--uri", project.uri, "reproduce", run_id, "--set", "db_uri")
    assert code == 2 and "expects NAME=VALUE" in out + err

    monkeypatch.setenv("FETCH_TOKEN", "tok-9")
    code, out, err = modeldb("--uri", project.uri, "reproduce", run_id,
                             "--set", "db_uri=postgresql://app:pw-1@db/sales", "--set-env", "api_token=FETCH_TOKEN")
    assert code == 0, out + err
    assert "identical" in out and "pw-1" not in out and "tok-9" not in out
