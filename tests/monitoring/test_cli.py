"""``modeldb monitor status``: the latest state per deployment, in every output format."""
from __future__ import annotations

import json

from click.testing import CliRunner

from modeldb_core.cli import cli


def test_monitor_status_by_model_and_by_deployment(monitored):
    runner = CliRunner()
    table = runner.invoke(cli, ["--uri", monitored, "monitor", "status", "pricing"])
    assert table.exit_code == 0, table.output
    assert "degraded" in table.output and "prod" in table.output and "area" in table.output
    as_json = runner.invoke(cli, ["--uri", monitored, "monitor", "status", "prod", "--json"])
    rows = json.loads(as_json.output)
    assert [(r["model"], r["version"], r["deployment"], r["state"], r["batches"]) for r in rows] == \
        [("pricing", 1, "prod", "degraded", 7)]
    lenient = runner.invoke(cli, ["--uri", monitored, "monitor", "status", "--degraded-after", "5", "--csv"])
    assert lenient.output.splitlines()[0].startswith("model,project,version,deployment,state")
    assert ",drifting," in lenient.output
    none = runner.invoke(cli, ["--uri", monitored, "monitor", "status", "nothing-here"])
    assert none.exit_code == 0 and "(no monitoring runs)" in none.output
    both = runner.invoke(cli, ["--uri", monitored, "monitor", "status", "--json", "--csv"])
    assert both.exit_code == 2 and "cannot be used together" in both.output
