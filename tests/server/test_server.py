"""The tracking server through a real uvicorn process, on SQLite and PostgreSQL."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
import uuid



TRACK = textwrap.dedent("""
    import sys
    import modeldb_core as m

    @m.tracked_task(project="remote")
    def train(i, lr=0.1):
        m.log_metric("rmse", 1.0 / (i + 1))
        m.set_tag("team", "pricing")
        return i

    for i in range(int(sys.argv[1])):
        train(i, lr=i / 10)
    assert m.flush(60), "the server did not take the events"
""")


def _runs(store_uri: str, project: str = "remote"):
    from modeldb_core.store import open_store

    store = open_store(store_uri)
    try:
        return store.list_runs(project=project, limit=100_000)
    finally:
        store.close()


def _track(server_url: str, token: str, env: dict, count: int, tmp_path) -> subprocess.CompletedProcess:
    script = tmp_path / "track.py"
    script.write_text(TRACK)
    env = {**env, "MODELDB_URI": server_url, "MODELDB_TOKEN": token}
    return subprocess.run([sys.executable, str(script), str(count)], env=env, capture_output=True,
                          text=True, timeout=300)


def test_a_tracked_function_lands_through_the_server(store_uri, start_server, server_env, tmp_path, new_token):
    server = start_server(store_uri)
    token = new_token(store_uri)
    done = _track(server.url, token, server_env, 3, tmp_path)
    assert done.returncode == 0, done.stderr
    runs = _runs(store_uri)
    assert sorted(r.name for r in runs) == ["train"] * 3
    assert {r.status for r in runs} == {"succeeded"}

    # Reads through the server: what `modeldb runs list` and `runs show` print.
    env = {**server_env, "MODELDB_URI": server.url, "MODELDB_TOKEN": token}
    listed = subprocess.run([sys.executable, "-m", "modeldb_core.cli", "runs", "list", "--json"],
                            env=env, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert {r["id"] for r in rows} == {r.id for r in runs}
    assert {r["params"]["lr"] for r in rows} == {0.0, 0.1, 0.2}
    filtered = subprocess.run([sys.executable, "-m", "modeldb_core.cli", "runs", "list", "--json",
                               "--filter", "metrics.rmse < 0.6 and tags.team = 'pricing'"],
                              env=env, capture_output=True, text=True, timeout=120)
    assert filtered.returncode == 0, filtered.stderr
    assert sorted(r["params"]["lr"] for r in json.loads(filtered.stdout)) == [0.1, 0.2]
    broken = subprocess.run([sys.executable, "-m", "modeldb_core.cli", "runs", "list", "--filter",
                             "metrics.rmse <"], env=env, capture_output=True, text=True, timeout=120)
    assert broken.returncode == 1 and "Traceback" not in broken.stderr
    shown = subprocess.run([sys.executable, "-m", "modeldb_core.cli", "runs", "show", runs[0].id],
                           env=env, capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert "rmse" in shown.stdout and "pricing" in shown.stdout


def test_a_server_down_loses_nothing(sqlite_uri, start_server, monkeypatch, tmp_path, new_token, port):
    import modeldb_core as m

    token = new_token(sqlite_uri)
    monkeypatch.setenv("MODELDB_TOKEN", token)
    client = m.configure(uri=f"http://127.0.0.1:{port}")
    try:
        @m.tracked_task(project="remote")
        def step(i):
            m.log_metric("loss", float(i))
            return i

        for i in range(20):
            assert step(i) == i  # the user's work goes on while nothing answers
        assert not m.flush(1.0)
        assert _runs(sqlite_uri) == []
        start_server(sqlite_uri, port=port)
        assert m.flush(90)
        runs = _runs(sqlite_uri)
        assert len(runs) == 20 and {r.status for r in runs} == {"succeeded"}
    finally:
        client.close()


def test_what_a_finished_process_left_in_its_journal_is_sent_later(sqlite_uri, start_server, server_env,
                                                                   tmp_path, new_token, port):
    url = f"http://127.0.0.1:{port}"
    token = new_token(sqlite_uri)
    script = tmp_path / "track.py"
    script.write_text(TRACK.replace('assert m.flush(60), "the server did not take the events"', ""))
    env = {**server_env, "MODELDB_URI": url, "MODELDB_TOKEN": token, "MODELDB_EXIT_TIMEOUT": "0.5"}
    done = subprocess.run([sys.executable, str(script), "5"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert _runs(sqlite_uri) == []
    start_server(sqlite_uri, port=port)
    synced = subprocess.run([sys.executable, "-m", "modeldb_core.cli", "sync"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert synced.returncode == 0, synced.stderr
    runs = _runs(sqlite_uri)
    assert len(runs) == 5 and {r.status for r in runs} == {"succeeded"}


def test_two_replicas_share_one_postgres(postgres_server, start_server, server_env, tmp_path, new_token):
    """Four clients on two replicas of one PostgreSQL; one replica is stopped and started again
    while they track: every run lands exactly once."""
    store_uri = postgres_server.new_database()
    first, second = start_server(store_uri), start_server(store_uri)
    token = new_token(store_uri)
    (tmp_path / "track.py").write_text(TRACK)
    clients = [subprocess.Popen([sys.executable, str(tmp_path / "track.py"), "40"],
                                env={**server_env, "HOME": str(tmp_path / f"home-{i}"),
                                     "MODELDB_URI": server.url, "MODELDB_TOKEN": token},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for i, server in enumerate((first, second, first, second))]
    time.sleep(1.0)
    first.stop()
    time.sleep(1.0)
    first.start()
    for client in clients:
        _, err = client.communicate(timeout=300)
        assert client.returncode == 0, err
    runs = _runs(store_uri)
    assert len(runs) == 160 and len({r.id for r in runs}) == 160
    assert {r.status for r in runs} == {"succeeded"}


def _started(run_id: str, at: float = 1_780_000_000.0) -> list:
    return ["started", run_id, 1, {"project": "p", "name": "n", "started_at": at}]


def test_tokens_are_checked(sqlite_uri, start_server, http, new_token):
    server = start_server(sqlite_uri)
    url = server.url + "/api/v1/events"
    body = {"events": [_started(str(uuid.uuid4()))]}
    from modeldb_core.store import open_store

    assert http("POST", url, body)[0] == 401
    assert http("POST", url, body, token="mdb_0123456789ab_wrong")[0] == 401
    assert http("POST", url, body, token="not-a-token")[0] == 401
    read = new_token(sqlite_uri, scope="read")
    status, answer = http("POST", url, body, token=read)
    assert status == 403 and "read" in answer["error"]["message"]
    expired = new_token(sqlite_uri, expires_at=time.time() - 1)
    assert http("POST", url, body, token=expired)[0] == 401
    write = new_token(sqlite_uri)
    store = open_store(sqlite_uri)
    try:
        store.revoke_token(write.split("_")[1])
    finally:
        store.close()
    status, answer = http("POST", url, body, token=write)
    assert status == 401 and "revoked" in answer["error"]["message"]
    assert write not in server.log.read_text()
    assert _runs(sqlite_uri, "p") == []  # nothing written
    assert http("GET", server.url + "/healthz")[0] == 200

    good = new_token(sqlite_uri)
    assert http("POST", url, body, token=good) == (200, {"applied": 1})
    assert [r.name for r in _runs(sqlite_uri, "p")] == ["n"]
    import urllib.request

    metrics = urllib.request.urlopen(server.url + "/metrics").read().decode()
    assert "modeldb_events_applied_total 1" in metrics
    assert "modeldb_requests_rejected_total 6" in metrics


def test_no_auth_and_plain_http_only_on_loopback(sqlite_uri):
    done = subprocess.run([sys.executable, "-m", "modeldb_core.cli", "--uri", sqlite_uri, "server",
                           "--host", "0.0.0.0", "--no-auth"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "--no-auth" in done.stderr and "loopback" in done.stderr
    done = subprocess.run([sys.executable, "-m", "modeldb_core.cli", "--uri", sqlite_uri, "server",
                           "--host", "0.0.0.0"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "--plain-http" in done.stderr and "TLS" in done.stderr


def test_a_malformed_event_is_refused_naming_the_field(store_uri, start_server, http, new_token):
    server = start_server(store_uri)
    token = new_token(store_uri)
    url = server.url + "/api/v1/events"
    ok = _started(str(uuid.uuid4()))
    bad = ["started", str(uuid.uuid4()), 2, {"project": "p", "name": "n", "started_at": "yesterday"}]
    status, answer = http("POST", url, {"events": [ok, bad]}, token=token)
    assert status == 400
    assert answer["error"]["field"] == "events[1].data.started_at"
    assert "yesterday" in answer["error"]["message"]
    status, answer = http("POST", url, {"events": [["exploded", "x", 1, {}]]}, token=token)
    assert status == 400 and answer["error"]["field"] == "events[0].kind"
    assert http("POST", url, b"{not json", token=token)[0] == 400
    assert _runs(store_uri, "p") == []  # the good event of a refused batch is not written either
    # A body over the limit is refused from its declared length, before it is read.
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.putrequest("POST", "/api/v1/events")
    conn.putheader("Authorization", f"Bearer {token}")
    conn.putheader("Content-Length", str(17 * 1024 * 1024))
    conn.endheaders()
    answer = conn.getresponse()
    assert answer.status == 413 and json.loads(answer.read())["error"]["field"] == "body"
    conn.close()


def test_concurrent_batches_on_one_replica(postgres_server, start_server, http, new_token):
    """Batches of one new project, posted at once to one server process: all land."""
    import concurrent.futures

    store_uri = postgres_server.new_database()
    server = start_server(store_uri)
    token = new_token(store_uri)

    def batch(i: int):
        events = [["started", str(uuid.uuid4()), 1, {"project": f"shared-{i // 8}", "name": "n",
                                                     "started_at": 1_780_000_000.0}] for j in range(50)]
        return http("POST", server.url + "/api/v1/events", {"events": events}, token=token)[0]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert list(pool.map(batch, range(16))) == [200] * 16
    from modeldb_core.store import open_store

    store = open_store(store_uri)
    try:
        assert len(store.list_runs(limit=10_000)) == 800
    finally:
        store.close()


def test_a_read_waiting_on_a_failing_server_does_not_flood_it(postgres_server, start_server):
    import modeldb_core as m

    uri = postgres_server.new_database()
    server = start_server(uri, no_auth=True)
    client = m.configure(uri=server.url)
    try:
        @m.tracked_task(project="flood")
        def step(i):
            return i

        step(0)
        assert m.flush(60)
        # The server's database goes away: every batch now fails there (503, no Retry-After).
        postgres_server.execute(f'DROP DATABASE "{uri.rsplit("/", 1)[1]}" WITH (FORCE)')
        before = server.log.read_text().count("/api/v1/events failed")
        step(1)
        assert not m.flush(3.0)  # a read waits for the writer, which keeps failing
        # It tries again while the read waits, no sooner than 0.5 s after each failure.
        assert 1 <= server.log.read_text().count("/api/v1/events failed") - before <= 10
    finally:
        client.close()
