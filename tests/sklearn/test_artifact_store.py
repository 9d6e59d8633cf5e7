"""The content-addressed artifact store, on a real folder."""
from __future__ import annotations

import hashlib
import os
import pickle
import stat
import threading
from pathlib import Path

import pytest

import modeldb_core as mdb
from modeldb_core.artifact_store import ArtifactStore
from modeldb_core.errors import NotFoundError, ValidationError


def test_blobs_are_named_by_the_sha256_of_their_content(tmp_path):
    store = ArtifactStore(tmp_path / "artifacts")
    data = os.urandom(3 * 1024 * 1024 + 17)
    blob = store.put_bytes(data, {"format": "raw", "note": "random"})
    expected = "sha256:" + hashlib.sha256(data).hexdigest()
    assert blob.content_hash == expected and blob.size == len(data) and blob.created
    assert blob.path == tmp_path / "artifacts" / "sha256" / expected[7:9] / expected[9:]
    assert blob.path.read_bytes() == data
    assert not blob.path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH), "blobs are read-only"
    assert store.describe(expected)["note"] == "random"
    assert store.describe(expected)["size"] == len(data)
    assert store.verify(expected)
    assert list((tmp_path / "artifacts" / "tmp").iterdir()) == [], "no temp file is left behind"

    again = store.put_bytes(data, {"format": "raw", "note": "second"})
    assert again.content_hash == expected and not again.created
    assert store.describe(expected)["note"] == "random", "the first description stays"
    version = blob.artifact_version("model", {"extra": 1})
    assert (version.uri, version.kind, version.content_hash, version.size) == (
        "file://" + str(blob.path), "model", expected, len(data))
    assert version.metadata["extra"] == 1 and version.fingerprint_method == "full"


def test_concurrent_writers_of_the_same_content_end_with_one_blob(tmp_path):
    store = ArtifactStore(tmp_path)
    payload = {"weights": list(range(50_000))}
    results = []

    def put():
        results.append(store.put_stream(lambda sink: pickle.dump(payload, sink, protocol=5)))

    threads = [threading.Thread(target=put) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r.content_hash for r in results}) == 1
    assert sum(r.created for r in results) >= 1
    assert len(list((tmp_path / "sha256").rglob("*"))) == 3  # one folder, the blob, its description
    assert store.load_pickle(results[0].content_hash) == payload


def test_bad_hashes_and_missing_blobs_are_clear_errors(tmp_path):
    store = ArtifactStore(tmp_path)
    with pytest.raises(ValidationError, match="content hash"):
        store.path("sha256:../../etc/passwd")
    with pytest.raises(ValidationError, match="64 lowercase hex"):
        store.describe("md5:abc")
    with pytest.raises(NotFoundError):
        store.describe("sha256:" + "0" * 64)


def test_a_tampered_blob_is_not_unpickled(tmp_path):
    store = ArtifactStore(tmp_path)
    blob = store.put_bytes(pickle.dumps({"a": 1}))
    os.chmod(blob.path, 0o644)
    blob.path.write_bytes(pickle.dumps({"a": 2}))
    assert not store.verify(blob.content_hash)
    with pytest.raises(ValidationError, match="no longer match"):
        store.load_pickle(blob.content_hash)


def test_the_default_root_follows_the_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELDB_ARTIFACTS", str(tmp_path / "from-env"))
    client = mdb.configure(uri=f"sqlite:///{tmp_path / 'db.sqlite'}")
    assert ArtifactStore().root == tmp_path / "from-env"
    client.close()
    monkeypatch.delenv("MODELDB_ARTIFACTS")
    client = mdb.configure(uri=f"sqlite:///{tmp_path / 'db.sqlite'}")
    assert ArtifactStore().root == Path(os.environ["HOME"]) / ".modeldb" / "artifacts"
    client.close()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_store_file_home_folder_and_artifacts_are_private_to_their_owner(tmp_path, monkeypatch):
    from modeldb_core import files

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    mdb.configure(uri=f"sqlite:///{tmp_path / 'unused.db'}").close()
    old_umask = os.umask(0o022)  # a typical umask would give 0755 folders and 0644 files
    try:
        store = ArtifactStore(tmp_path / "home" / ".modeldb" / "artifacts")
        blob = store.put_bytes(b"weights")
        assert _mode(tmp_path / "home" / ".modeldb") == 0o700
        assert _mode(store.root) == 0o700 and _mode(blob.path.parent) == 0o700
        assert _mode(blob.path) == 0o400
        assert _mode(blob.path.with_name(blob.path.name + ".json")) == 0o600
        database = tmp_path / "home" / ".modeldb" / "modeldb.db"
        files.prepare_sqlite_file(database)
        assert _mode(database) == 0o600
        # A folder the user made keeps its mode; only what ModelDB creates is made private.
        shared = tmp_path / "shared"
        shared.mkdir(mode=0o775)
        os.chmod(shared, 0o775)
        files.prepare_sqlite_file(shared / "team.db")
        assert _mode(shared) == 0o775 and _mode(shared / "team.db") == 0o600

        monkeypatch.setenv("MODELDB_PRIVATE_FILES", "0")
        mdb.configure(uri=f"sqlite:///{tmp_path / 'unused.db'}").close()  # settings are read per client
        open_store = ArtifactStore(tmp_path / "open")
        opened = open_store.put_bytes(b"public")
        assert _mode(open_store.root) == 0o755 and _mode(opened.path) == 0o444
        files.prepare_sqlite_file(tmp_path / "open" / "x.db")
        assert _mode(tmp_path / "open" / "x.db") == 0o644
    finally:
        os.umask(old_umask)

