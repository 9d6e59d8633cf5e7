"""Models and versions on SQLite and PostgreSQL: numbering, idempotence, names, bad input."""
from __future__ import annotations

import pytest

from modeldb_core.errors import NotFoundError, ValidationError
from modeldb_core.store import open_store

from .conftest import content, run_at_once


def test_versions_are_numbered_per_model_and_the_same_content_gives_its_version(store):
    one = store.register_model_version("pricing", content("a"), actor="alice")
    two = store.register_model_version("pricing", content("b"), actor="alice")
    again = store.register_model_version("pricing", content("a"), actor="bob")
    other = store.register_model_version("churn", content("a"), actor="alice")
    assert (one.version, two.version, again.version, other.version) == (1, 2, 1, 1)
    assert again.id == one.id and again.created_by == "alice"
    assert [v.version for v in store.model_versions("pricing")] == [1, 2]
    assert store.get_model("pricing").latest_version == 2
    assert [m.name for m in store.list_models()] == ["churn", "pricing"]


def test_names_are_trimmed_and_nfc_normalized(store):
    store.register_model_version("café ", content("a"), actor="alice")  # "e" + combining acute
    store.register_model_version("café", content("b"), actor="alice")
    assert [m.name for m in store.list_models()] == ["café"]
    assert store.resolve_model("models:/café/2").version == 2


def test_a_version_records_its_run_and_the_data_that_run_read(store_uri, trained):
    run_id = trained(25.0, data="file:///data/train-v1.csv")
    import modeldb_core as mdb

    version = mdb.register_model("pricing", run=run_id, artifact=content("a"))
    assert version.run_id == run_id
    assert [uri for _, uri, _ in version.inputs] == ["file:///data/train-v1.csv"]
    assert version.metrics == {"rmse": 25.0}
    # The model's next version (the model there already), from a run that read two data sets.
    retrained = trained(21.0, data="file:///data/train-v2.csv")
    with mdb.start_run("train-more", project="pricing", phase="training") as run:
        run.log_input("file:///data/train-v2.csv")
        run.log_input("file:///data/extra.csv")
        run.log_metric("rmse", 20.0)
    second = mdb.register_model("pricing", run=run.id, artifact=content("b"))
    assert (second.version, second.run_id, second.project) == (2, run.id, "pricing")
    assert sorted(uri for _, uri, _ in second.inputs) == ["file:///data/extra.csv", "file:///data/train-v2.csv"]
    assert second.metrics == {"rmse": 20.0}
    store = open_store(store_uri)
    assert store.resolve_model("models:/pricing/2").inputs == second.inputs
    assert [(o.name, o.artifact.uri) for o in store.get_run_detail(store.resolve_run(run.id)).outputs] == [
        ("model", content("b").uri)]
    assert store.get_run_detail(store.resolve_run(retrained)).outputs == []
    store.close()


REGISTER = """
from modeldb_core.store import open_store
from tests.registry.conftest import content
store = open_store(argv[0])
for i in range(5):
    store.register_model_version("pricing", content(f"w{worker}-{i}"), actor=f"worker{worker}")
"""


def test_eight_processes_registering_at_once_get_versions_without_gap_or_duplicate(store_uri):
    open_store(store_uri).close()  # the schema, made once
    run_at_once(REGISTER, store_uri)
    store = open_store(store_uri)
    versions = store.model_versions("pricing")
    assert sorted(v.version for v in versions) == list(range(1, 41))
    assert len({v.content_hash for v in versions}) == 40
    assert store.verify_audit().ok
    store.close()


# Inserts the artifact row of a model file in a transaction (as a tracked run writing that file
# does) and commits it only once another statement waits for it.
HOLD_ARTIFACT = """
import sys, time
from sqlalchemy import create_engine, text
engine = create_engine(sys.argv[1])
with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as watcher, engine.begin() as holder:
    holder.execute(text("INSERT INTO artifacts (uri, kind, created_at) VALUES (:uri, 'model', 0)"), {"uri": sys.argv[2]})
    print("inserted", flush=True)
    deadline = time.time() + 60
    while time.time() < deadline and not watcher.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()")).scalar():
        time.sleep(0.01)
"""


def test_a_model_file_another_writer_commits_meanwhile_is_registered_once(postgres_server):
    """PostgreSQL: the registration's artifact row, inserted by a transaction that commits while the
    registration waits for it, is the one the version uses (its statement could not see it)."""
    import subprocess
    import sys

    uri = postgres_server.new_database()
    store = open_store(uri)
    store.register_model_version("pricing", content("a"), actor="alice")
    holder = subprocess.Popen([sys.executable, "-c", HOLD_ARTIFACT, uri, content("b").uri],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "inserted"
    version = store.register_model_version("pricing", content("b"), actor="alice")
    assert holder.wait(timeout=60) == 0
    assert (version.version, version.artifact_uri, version.content_hash) == (2, content("b").uri,
                                                                           content("b").content_hash)
    assert store.resolve_model("models:/pricing/2").artifact_version_id == version.artifact_version_id
    assert [v.version for v in store.model_versions("pricing")] == [1, 2]
    assert [e.action for e in store.audit_events()] == ["model.create", "version.register", "version.register"]
    assert store.verify_audit().ok
    store.close()


@pytest.mark.parametrize("uri, problem", [
    ("models:/pricing/0", "whole number from 1"),
    ("models:/pricing/-1", "whole number from 1"),
    ("models:/pricing@", "must not be empty"),
    ("models:/pricing@7", "must not be a number"),
    ("models://pricing", "project before '/' is empty"),
    ("model:/pricing/1", "not a models:/ URI"),
    ("s3://bucket/pricing", "not a models:/ URI"),
])
def test_a_malformed_uri_is_a_clear_error_naming_it(store, uri, problem):
    store.register_model_version("pricing", content("a"), actor="alice")
    with pytest.raises(ValidationError, match=problem) as caught:
        store.resolve_model(uri)
    assert repr(uri) in str(caught.value)


def test_unknown_model_and_version_are_errors_naming_them(store):
    store.register_model_version("pricing", content("a"), actor="alice")
    with pytest.raises(NotFoundError, match="'churn'"):
        store.resolve_model("models:/churn/1")
    with pytest.raises(NotFoundError, match="models:/pricing/9"):
        store.resolve_model("models:/pricing/9")
    with pytest.raises(NotFoundError, match="models:/pricing@production"):
        store.resolve_model("models:/pricing@production")


def test_names_that_would_break_uris_are_refused_and_nothing_is_written(store):
    for bad in ("a/b", "a@b", "", "   ", "zero\u200bwidth"):
        with pytest.raises(ValidationError):
            store.register_model_version(bad, content("a"), actor="alice")
    assert store.list_models() == []
    assert store.audit_events() == []
