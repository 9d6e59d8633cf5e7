"""Operations of a real ``modeldb server`` process: per-token rate limits (429 with
Retry-After; a tracking client backs off and loses nothing) and a SIGTERM that lets the
batch in flight finish."""
from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

CLIENT = """
import sys, time
import modeldb_core

@modeldb_core.tracked_task(project="limited")
def step(i: int) -> int:
    return i

for i in range(int(sys.argv[1])):
    step(i)
    time.sleep(0.02)  # a task's work: the writer sends a batch every few calls
"""


def _get(url: str, token: str) -> tuple[int, Any, str]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.headers, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read().decode()


def _rate_limited(url: str) -> float:
    with urllib.request.urlopen(url + "/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return float(re.search(r"^modeldb_requests_rate_limited_total (\S+)$", text, re.M).group(1))


def test_a_token_over_its_rate_limit_gets_429_and_a_tracking_client_loses_nothing(
        sqlite_uri, start_server, new_token, server_env, tmp_path):
    from modeldb_core.query import build_query
    from modeldb_core.store import open_store

    server = start_server(sqlite_uri, args=("--rate-limit", "2"))
    reader, other = new_token(sqlite_uri, "read"), new_token(sqlite_uri, "read")

    answers = [_get(server.url + "/api/v1/runs", reader) for _ in range(6)]
    limited = [a for a in answers if a[0] == 429]
    assert limited, [a[0] for a in answers]
    status, headers, body = limited[0]
    assert int(headers["Retry-After"]) >= 1
    assert "rate limit of 2 requests per second" in body and reader not in body
    # The limit is the token's own: another token is not held back by it.
    assert _get(server.url + "/api/v1/runs", other)[0] == 200

    # A tracking client whose writer runs into the limit: it backs off, and every run lands.
    before = _rate_limited(server.url)
    env = {**server_env, "MODELDB_URI": server.url, "MODELDB_TOKEN": new_token(sqlite_uri, "write")}
    done = subprocess.run([sys.executable, "-c", CLIENT, "60"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert _rate_limited(server.url) > before, "the writer never ran into the limit"
    store = open_store(sqlite_uri)
    try:
        deadline = time.monotonic() + 60
        while True:
            landed = sorted(r.params["i"] for r in store.stream_runs(build_query(project="limited")))
            if len(landed) >= 60 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert landed == list(range(60))
    finally:
        store.close()


def _batch(runs: int) -> list:
    from modeldb_core.events import ENDED, METRIC, STARTED, Event, uuid7

    events, now = [], time.time()
    for r in range(runs):
        run_id = uuid7()
        events.append(Event(STARTED, run_id, 1, {"project": "sigterm", "name": "train", "started_at": now,
                                                  "orchestrator": "python", "params": {"r": r}}))
        events += [Event(METRIC, run_id, 2 + k, [f"m{k}", 0.5, 0, now]) for k in range(5)]
        events.append(Event(ENDED, run_id, 7, {"status": "succeeded", "ended_at": now + 1}))
    return events


def test_sigterm_lets_the_batch_in_flight_finish(store_uri, start_server, new_token):
    import http.client
    import urllib.parse

    from modeldb_core import wire
    from modeldb_core.query import build_query
    from modeldb_core.store import open_store

    server = start_server(store_uri)
    [body] = list(wire.split(_batch(1_400), {}))  # 9,800 events: one request
    address = urllib.parse.urlsplit(server.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=120)
    connection.putrequest("POST", wire.EVENTS_PATH)
    for name, value in (("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                        ("Authorization", f"Bearer {new_token(store_uri, 'write')}")):
        connection.putheader(name, value)
    connection.endheaders()
    # The batch is in flight when the SIGTERM comes: half its body is sent, the rest after.
    connection.send(body[: len(body) // 2])
    time.sleep(0.5)
    server.process.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    connection.send(body[len(body) // 2:])
    answer = connection.getresponse()
    assert answer.status == 200, answer.read()
    assert b'"applied":9800' in answer.read().replace(b" ", b"")
    connection.close()
    # uvicorn re-raises the SIGTERM once it has shut down, so the exit status says what stopped it.
    assert server.process.wait(60) in (0, -signal.SIGTERM)
    # Stopped: nothing more is accepted.
    try:
        urllib.request.urlopen(server.url + "/healthz", timeout=2)
        raise AssertionError("the server still answers after SIGTERM")
    except OSError:
        pass
    store = open_store(store_uri)
    try:
        assert sum(1 for _ in store.stream_runs(build_query(project="sigterm"))) == 1_400
    finally:
        store.close()


def test_a_writer_waits_what_retry_after_asks(sqlite_uri, start_server, new_token, monkeypatch):
    import modeldb_core as m
    from modeldb_core.errors import RateLimitedError, StoreUnavailableError
    from modeldb_core.store.http_store import HttpStore

    # One request every 2 s: a request right after another is told "Retry-After: 2".
    server = start_server(sqlite_uri, args=("--rate-limit", "0.5"))
    token = new_token(sqlite_uri, "write")
    # A synchronous call over the limit raises the error the server raised, with its delay.
    remote = HttpStore(server.url, token=token)
    try:
        remote.list_models()
        try:
            remote.list_models()
            raise AssertionError("the second call right after the first was not limited")
        except RateLimitedError as exc:
            assert isinstance(exc, StoreUnavailableError) and 1 <= exc.retry_after <= 2
    finally:
        remote.close()

    monkeypatch.setenv("MODELDB_TOKEN", token)
    client = m.configure(uri=server.url)
    try:
        @m.tracked_task(project="limited")
        def step(i: int) -> int:
            return i

        step(0)
        assert m.flush(60)
        # The writer's requests arrive over the limit (the token was just used): told to retry
        # after 2 s, it sends nothing before, though flush() wakes it every 50 ms meanwhile.
        # At most one 429 for each of its two requests (the look for parked events, the batch).
        _get(server.url + "/api/v1/runs", token)
        before = _rate_limited(server.url)
        step(1)
        assert m.flush(60)
        assert _rate_limited(server.url) - before <= 2
    finally:
        client.close()
    from modeldb_core.query import build_query
    from modeldb_core.store import open_store

    with open_store(sqlite_uri) as stored:
        assert sorted(r.params["i"] for r in stored.stream_runs(build_query(project="limited"))) == [0, 1]
