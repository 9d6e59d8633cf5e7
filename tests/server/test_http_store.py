"""The client of ``modeldb server`` (store/http_store.py) against a real server process:
its calls share one kept-alive connection, which it replaces when the server closed it
(a replica restarted), and a batch gets the time its size needs."""
from __future__ import annotations

import re
import urllib.request
from pathlib import Path


def _connections_to(port: int) -> set[int]:
    """The client ports of this machine's TCP connections to ``port``, open or lately closed
    (what ``ss -tan`` lists, TIME_WAIT included)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, remote, state = line.split()[1:4]
        if state == "0A":  # LISTEN
            continue
        local_port, remote_port = int(local.split(":")[1], 16), int(remote.split(":")[1], 16)
        if local_port == port:
            found.add(remote_port)
        elif remote_port == port:
            found.add(local_port)
    return found


def test_calls_share_one_connection_which_outlives_a_server_restart(sqlite_uri, start_server, port):
    from modeldb_core.store.http_store import HttpStore

    server = start_server(sqlite_uri, port=port, no_auth=True)
    store = HttpStore(server.url, token="")
    try:
        before = _connections_to(port)
        for i in range(10):
            store.create_model(f"model-{i}", "me")  # a registry write (POST)
            assert len(store.list_models()) == i + 1  # a read (GET)
        assert len(_connections_to(port) - before) == 1, "20 calls, one TCP connection"

        # The server restarts (a replica rolled): the connection it closed is replaced unseen,
        # for a write that must not be sent twice as for a read.
        server.stop()
        server.start()
        before = _connections_to(port)  # with the start's own health checks
        created = store.create_model("after-restart", "me")
        assert created.name == "after-restart"
        assert len(store.list_models()) == 11
        assert len(_connections_to(port) - before) == 1, "a new connection, kept again"
    finally:
        store.close()


def _batches(url: str) -> float:
    with urllib.request.urlopen(url + "/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return float(re.search(r"^modeldb_batches_total (\S+)$", text, re.M).group(1))


def _batch(project: str, points: int) -> tuple[str, list]:
    from modeldb_core.events import METRIC, STARTED, Event, uuid7

    run = uuid7()
    events = [Event(STARTED, run, 1, {"project": project, "name": "train", "started_at": 1.0,
                                      "orchestrator": "python"})]
    return run, events + [Event(METRIC, run, 2 + i, ["loss", 1.0 / (i + 1), i, 1.0]) for i in range(points)]


def test_a_write_waits_what_its_batch_and_the_servers_pace_need(sqlite_uri, start_server, monkeypatch):
    from modeldb_core.errors import StoreUnavailableError
    from modeldb_core.store import http_store, open_store

    server = start_server(sqlite_uri, no_auth=True)
    # A writer whose own timeout is far shorter than the server takes to apply 5,000 events:
    # the batch's size buys it the time (no StoreUnavailableError), and it is sent once.
    big, events = _batch("big", 5000)
    remote = open_store(server.url, timeout=0.05)
    try:
        remote.apply_events(events, {})
    finally:
        remote.close()
    assert _batches(server.url) == 1, "the batch was sent once"

    # A server slower than the client's expected pace (here: only the store's 1 ms, nothing for
    # the batch's events or bytes; a quiet machine applies 2,000 events in ~20 ms): the first
    # write runs out of time, each next one waits twice as long, until one is answered.
    monkeypatch.setattr(http_store, "SECONDS_PER_EVENT", 0.0)
    monkeypatch.setattr(http_store, "BYTES_PER_SECOND", float("inf"))
    slow, events = _batch("slow", 2000)
    remote = open_store(server.url, timeout=0.001)
    attempts = 0
    try:
        while True:  # what the writer does: send the batch again after each failure
            attempts += 1
            try:
                remote.apply_events(events, {})
                break
            except StoreUnavailableError:
                assert attempts < 20, "the writer never waited long enough for the answer"
    finally:
        remote.close()
    assert attempts > 1
    with open_store(sqlite_uri) as stored:
        assert len(stored.metric_history(big, "loss")) == 5000
        assert len(stored.metric_history(slow, "loss")) == 2000
