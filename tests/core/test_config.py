"""Configuration precedence: argument > environment > config file > default."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from modeldb_core import config
from modeldb_core.errors import ValidationError


def _write_config(tmp_path, monkeypatch, body: str):
    path = tmp_path / "config.toml"
    path.write_text(body)
    monkeypatch.setenv("MODELDB_CONFIG", str(path))


def test_default_is_a_sqlite_file_in_home():
    settings = config.resolve()
    assert settings.uri == "sqlite:///" + os.path.expanduser("~/.modeldb/modeldb.db")
    assert settings.disabled is False and settings.project == "default"


def test_precedence(tmp_path, monkeypatch):
    _write_config(tmp_path, monkeypatch, 'uri = "sqlite:////from/file.db"\nproject = "p-file"\n')
    assert config.resolve().uri == "sqlite:////from/file.db"
    assert config.resolve().project == "p-file"
    monkeypatch.setenv("MODELDB_URI", "postgresql://u@h/db")
    assert config.resolve().uri == "postgresql+psycopg://u@h/db"
    assert config.resolve(uri="sqlite:////from/arg.db").uri == "sqlite:////from/arg.db"


def test_plain_path_means_sqlite(tmp_path):
    assert config.resolve(uri=str(tmp_path / "x.db")).uri == f"sqlite:///{tmp_path / 'x.db'}"


def test_disabled_from_env_and_file(tmp_path, monkeypatch):
    _write_config(tmp_path, monkeypatch, "[modeldb]\ndisabled = true\n")
    assert config.resolve().disabled is True
    monkeypatch.setenv("MODELDB_DISABLED", "0")
    assert config.resolve().disabled is False
    monkeypatch.setenv("MODELDB_DISABLED", "maybe")
    with pytest.raises(ValidationError, match="MODELDB_DISABLED"):
        config.resolve()


def test_broken_config_file_names_itself(tmp_path, monkeypatch):
    _write_config(tmp_path, monkeypatch, "uri = \n")
    with pytest.raises(ValidationError, match="config file"):
        config.resolve()


def test_import_is_light():
    code = ("import sys, modeldb_core; heavy = [m for m in ('sqlalchemy', 'alembic', 'numpy', 'pandas', "
            "'sklearn', 'fastapi', 'starlette', 'luigi', 'prefect', 'airflow') if m in sys.modules]; "
            "print(','.join(heavy))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_store_timeout_follows_the_same_precedence(tmp_path, monkeypatch):
    assert config.resolve().store_timeout is None
    _write_config(tmp_path, monkeypatch, "store_timeout = 4\n")
    assert config.resolve().store_timeout == 4.0
    monkeypatch.setenv("MODELDB_STORE_TIMEOUT", "2.5")
    assert config.resolve().store_timeout == 2.5
    assert config.resolve(store_timeout=1).store_timeout == 1.0
    monkeypatch.setenv("MODELDB_STORE_TIMEOUT", "-1")
    with pytest.raises(ValidationError, match="MODELDB_STORE_TIMEOUT.*more than 0"):
        config.resolve()


def test_store_timeout_reaches_the_sqlite_connection(tmp_path):
    import modeldb_core

    client = modeldb_core.configure(uri=f"sqlite:///{tmp_path / 'x.db'}", store_timeout=1.5)
    try:
        with client.store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1500
    finally:
        client.close()
