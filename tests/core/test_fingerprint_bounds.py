"""Fingerprinting is bounded: special files are never opened, folders and whole calls have a budget."""
from __future__ import annotations

import os
import threading
import time

import pytest

import modeldb_core as mdb
from modeldb_core import fingerprint as fp


def _only_run(client, name):
    runs = [r for r in client.store.list_runs(limit=1000) if r.name.endswith(name)]
    assert len(runs) == 1, runs
    return client.store.get_run_detail(runs[0].id)


def _in_thread(fn, timeout: float = 60.0):
    """Run ``fn`` in a thread; fail (instead of hanging the suite) if it does not return in time."""
    box: dict = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"still running after {timeout} s: it hangs"
    if "error" in box:
        raise box["error"]
    return box["value"]


def test_a_tracked_function_reading_a_fifo_gets_the_data_sent_to_it(tracking, tmp_path):
    pipe = tmp_path / "feed"
    os.mkfifo(pipe)
    payload = b"row-1\nrow-2\n" * 1000

    def writer():
        with open(pipe, "wb") as fh:  # blocks until a reader opens the FIFO
            fh.write(payload)

    @mdb.tracked_task
    def consume(path):
        with open(path, "rb") as fh:
            return fh.read()

    feeder = threading.Thread(target=writer, daemon=True)
    feeder.start()
    assert _in_thread(lambda: consume(str(pipe))) == payload
    feeder.join(10)
    detail = _only_run(tracking, "consume")
    assert detail.run.status == "succeeded"
    [recorded] = detail.inputs
    assert recorded.name == "path" and recorded.artifact.uri == f"file://{pipe}"
    assert recorded.artifact.kind == "fifo" and recorded.artifact.fingerprint_method == "uri-only"
    assert recorded.artifact.metadata == {"file_type": "fifo"}


def test_special_files_are_recorded_by_path_and_kind_only(tmp_path):
    import socket

    sock_path = tmp_path / "s.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock_path))
    try:
        assert fp.fingerprint(str(sock_path)).kind == "socket"
    finally:
        server.close()
    null = fp.fingerprint("/dev/zero")  # endless if read
    assert (null.kind, null.fingerprint_method, null.size) == ("character_device", "uri-only", None)
    # A FIFO inside a folder is listed, never opened (no writer: opening it would block forever).
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "a.csv").write_text("1\n")
    os.mkfifo(folder / "live")
    version = _in_thread(lambda: fp.fingerprint(folder), timeout=20)
    assert version.fingerprint_method == "full" and version.metadata == {"files": 1}


def test_a_tracked_call_with_the_root_folder_stays_within_its_budget(tracking, monkeypatch):
    monkeypatch.setenv("MODELDB_FINGERPRINT_SECONDS", "2")
    client = mdb.configure(uri=tracking.settings.uri)

    @mdb.tracked_task
    def scan(folder):
        return 1

    started = time.monotonic()
    assert scan("/") == 1
    elapsed = time.monotonic() - started
    detail = _only_run(client, "scan")
    [root] = detail.inputs
    assert root.artifact.uri == "file:///"
    assert root.artifact.fingerprint_method in ("listing:top-level", "budget_exceeded")
    # The walk stops at its entry or time limit (2 s here); the rest is the store write.
    assert elapsed < fp.DIRECTORY_WALK_SECONDS + 10, elapsed
    client.close()


def test_a_folder_the_walk_cannot_finish_is_fingerprinted_by_its_top_level(tmp_path, monkeypatch):
    lake = tmp_path / "lake"
    for part in range(4):
        (lake / f"p{part}").mkdir(parents=True)
        for i in range(5):
            (lake / f"p{part}" / f"{i}.csv").write_text(str(i))
    assert fp.fingerprint(lake).fingerprint_method == "full"
    monkeypatch.setattr(fp, "DIRECTORY_ENTRY_LIMIT", 10)
    walked = fp.fingerprint(lake)
    assert walked.fingerprint_method == "listing:top-level" and walked.metadata["entries"] == 4
    (lake / "p9").mkdir()
    assert fp.fingerprint(lake).content_hash != walked.content_hash


def test_an_input_past_the_budget_is_recorded_by_reference(tmp_path):
    data = tmp_path / "big.bin"
    data.write_bytes(b"x" * 5000)
    small = tmp_path / "small.bin"
    small.write_bytes(b"y" * 100)
    with fp.call_budget(fp.Budget(seconds=30, max_bytes=1000)):
        over = fp.fingerprint(data)
        fits = fp.fingerprint(small)
        # What is left of one call's budget is shared by the inputs after it.
        fp.fingerprint(small)
        assert fp._current_budget().bytes_left == 800
    assert over.fingerprint_method == "budget_exceeded" and over.content_hash.startswith("ref:")
    assert over.size == 5000 and over.uri == f"file://{data}"
    assert fits.fingerprint_method == "full"
    # The reference still changes when the file does (size, modification time).
    data.write_bytes(b"x" * 6000)
    assert fp.fingerprint(data, budget=fp.Budget(30, 1000)).content_hash != over.content_hash
    # Out of time: nothing is read at all.
    expired = fp.fingerprint(small, budget=fp.Budget(seconds=0, max_bytes=1 << 30))
    assert expired.fingerprint_method == "budget_exceeded"
    # In-memory values past the budget get a fresh name: it is not a content hash.
    blob = fp.fingerprint(b"z" * 5000, budget=fp.Budget(30, 1000))
    assert blob.fingerprint_method == "budget_exceeded" and blob.uri.startswith("value:bytes/unhashed-")


def test_the_budget_settings_follow_the_one_precedence(tmp_path, monkeypatch):
    from modeldb_core import config
    from modeldb_core.errors import ValidationError

    assert (config.resolve().fingerprint_seconds, config.resolve().fingerprint_bytes) == (5.0, 1 << 30)
    conf = tmp_path / "config.toml"
    conf.write_text("fingerprint_seconds = 3\nfingerprint_bytes = 2048\n")
    monkeypatch.setenv("MODELDB_CONFIG", str(conf))
    assert (config.resolve().fingerprint_seconds, config.resolve().fingerprint_bytes) == (3.0, 2048)
    monkeypatch.setenv("MODELDB_FINGERPRINT_BYTES", "4096")
    assert config.resolve().fingerprint_bytes == 4096
    assert config.resolve(fingerprint_bytes=10).fingerprint_bytes == 10
    monkeypatch.setenv("MODELDB_FINGERPRINT_SECONDS", "soon")
    with pytest.raises(ValidationError, match="MODELDB_FINGERPRINT_SECONDS"):
        config.resolve()
