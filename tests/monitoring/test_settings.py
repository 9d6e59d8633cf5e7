"""The monitoring settings: one precedence (argument > environment > file > default), bad values named."""
from __future__ import annotations

import pytest

from modeldb_core import config
from modeldb_core.errors import ValidationError


def test_monitoring_settings_follow_the_precedence(monkeypatch, tmp_path):
    assert (config.resolve().profile_rows, config.resolve().profile_bytes, config.resolve().drift_fdr,
            config.resolve().degraded_after) == (100_000, 65536, 0.01, 3)
    path = tmp_path / "config.toml"
    path.write_text("profile_rows = 20000\ndrift_fdr = 0.05\ndegraded_after = 5\n")
    monkeypatch.setenv("MODELDB_CONFIG", str(path))
    assert (config.resolve().profile_rows, config.resolve().drift_fdr, config.resolve().degraded_after) == \
        (20000, 0.05, 5)
    monkeypatch.setenv("MODELDB_DEGRADED_AFTER", "2")
    assert config.resolve().degraded_after == 2
    assert config.resolve(degraded_after=7).degraded_after == 7


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("MODELDB_DRIFT_FDR", "0.9", "at most 0.5"),
    ("MODELDB_DRIFT_FDR", "often", "a number"),
    ("MODELDB_PROFILE_ROWS", "10", "at least 1000"),
    ("MODELDB_PROFILE_BYTES", "1kb", "whole number"),
    ("MODELDB_DEGRADED_AFTER", "0", "at least 1"),
])
def test_a_bad_monitoring_setting_names_itself(monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=message) as caught:
        config.resolve()
    assert variable in str(caught.value)
