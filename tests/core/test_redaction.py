"""Secrets are redacted by one rule before anything is stored, shown or logged."""
from __future__ import annotations

import logging

import pytest

import modeldb_core as mdb
from modeldb_core import config, redaction
from modeldb_core.errors import ValidationError


@pytest.mark.parametrize("key", ["password", "db_password", "DB_PASSWORD", "AWS_SECRET_ACCESS_KEY", "apiKey",
                                 "api-key", "github_token", "accessToken", "credentials", "client_secret",
                                 "private_key_path", "Authorization", "passphrase"])
def test_keys_that_name_a_secret(key):
    assert redaction.is_secret_key(key, extra=())


@pytest.mark.parametrize("key", ["max_tokens", "tokenizer", "pad_token", "eos_token", "n_estimators",
                                 "learning_rate", "author", "keyboard", "passes", "secretary_count"])
def test_keys_that_do_not(key):
    assert not redaction.is_secret_key(key, extra=())


def test_configured_words_are_added_to_the_built_in_ones(monkeypatch):
    assert not redaction.is_secret_key("vault_pin", extra=())
    assert redaction.is_secret_key("vault_pin", extra=("pin",))
    assert redaction.is_secret_key("vault-pin", extra=("vault_pin",))
    monkeypatch.setenv("MODELDB_SECRET_KEYS", "pin, salt")
    assert config.resolve().secret_keys == ("pin", "salt")


def test_free_text_keeps_everything_but_the_secret():
    text = ('connect failed: password=hunter2, user=bob; {"api_key": "k 1"} '
            "postgresql://admin:S3cret@db:5432/x and s3://AKIA:wJalr@bucket/key Authorization: Bearer abc.def==")
    shown = redaction.redact_text(text)
    for secret in ("hunter2", '"k 1"', "S3cret", "wJalr", "abc.def"):
        assert secret not in shown
    for kept in ("user=bob", "postgresql://admin:***@db:5432/x", "s3://AKIA:***@bucket/key", "password=***"):
        assert kept in shown
    traceback_line = "    connect(db_url=\"postgresql://u:pw@h/d\", password='S3 cret')"
    assert redaction.redact_text(traceback_line) == \
        "    connect(db_url=\"postgresql://u:***@h/d\", password='***')"


def test_settings_repr_and_store_uri_errors_never_show_the_password():
    settings = config.resolve(uri="postgresql://admin:S3cret@db.internal:5432/models")
    assert settings.uri == "postgresql+psycopg://admin:S3cret@db.internal:5432/models"  # what the driver needs
    assert "S3cret" not in repr(settings) and "admin:***@db.internal" in repr(settings)
    with pytest.raises(ValidationError) as raised:
        config.resolve(uri="postgresql://admin:p@ss@db.internal/models")
    message = str(raised.value)
    assert "%40" in message and "quote" in message and "p@ss" not in message and "ss@" not in message
    with pytest.raises(ValidationError) as raised:
        config.resolve(uri="postgresql://admin:pa/ss@db.internal/models")
    assert "pa/ss" not in str(raised.value) and "percent-encode" in str(raised.value)
    encoded = config.resolve(uri="postgresql://admin:p%40ss@db.internal/models").uri
    assert encoded == "postgresql+psycopg://admin:p%40ss@db.internal/models"


def test_params_tags_and_uris_are_stored_redacted(tracking):
    with mdb.start_run("deploy", params={"db_url": "postgresql://admin:S3cret@db/x", "depth": 3,
                                         "conf": {"password": "x", "host": "h"}},
                       tags={"api_token": "tok-123", "owner": "ana"}) as run:
        run.set_tag("GITHUB_TOKEN", "ghp_abc")
        version = run.log_input("s3://AKIA:wJalr@bucket/data.csv")
    assert version.uri == "s3://AKIA:***@bucket/data.csv"
    detail = tracking.store.get_run_detail(run.id)
    assert detail.params == {"db_url": "postgresql://admin:***@db/x", "depth": 3,
                             "conf": {"password": "***", "host": "h"}}
    assert detail.tags == {"api_token": "***", "owner": "ana", "GITHUB_TOKEN": "***"}
    assert [i.artifact.uri for i in detail.inputs] == ["s3://AKIA:***@bucket/data.csv"]


def test_validation_errors_and_log_lines_do_not_show_secrets(caplog):
    with pytest.raises(ValidationError) as raised:
        with mdb.start_run("x", tags={"password": "S3cret" * 2000}):
            pass
    assert "S3cret" not in str(raised.value)
    from modeldb_core.safety import report

    with caplog.at_level(logging.WARNING, logger="modeldb"):
        report("open the store", RuntimeError("cannot connect to postgresql://admin:S3cret@db/x"))
    assert "S3cret" not in caplog.text and "admin:***@db" in caplog.text
