"""Scale and failover: client processes tracking tasks through nginx into two ``modeldb
server`` replicas on one PostgreSQL; one replica is SIGKILLed and restarted while they
write. Every run lands exactly once. (The full 16 x 1,000 is ``bench/bench_server.py
--cluster``; here 16 x 100 keeps the suite's time reasonable.)"""
from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from modeldb_core.server.cluster import Cluster, nginx_conf

pytestmark = pytest.mark.postgres

CLIENTS, TASKS = 16, 100

# A client process as a user writes one: a tracked function called in a loop, the store URI
# and token in the environment. It exits when its loop is done; its writer drains on exit.
CLIENT = """
import sys
import time
import modeldb_core

@modeldb_core.tracked_task(project="scale")
def train(client: int, i: int) -> int:
    time.sleep(0.01)  # a task's work: the writer sends a batch every few tasks, not one at exit
    return i

for i in range(int(sys.argv[2])):
    train(int(sys.argv[1]), i)
"""


def _count(store) -> int:
    from modeldb_core.query import build_query

    """Runs that landed whole (started and ended)."""
    return sum(1 for r in store.stream_runs(build_query(project="scale")) if r.run.status != "running")


def test_runs_land_exactly_once_while_a_replica_is_killed_and_restarted(
        postgres_server, tmp_path, server_env, new_token):
    from modeldb_core.query import build_query
    from modeldb_core.store import open_store

    uri = postgres_server.new_database()
    cluster = Cluster(uri, replicas=2, workdir=tmp_path / "cluster").start()
    store = open_store(uri)
    clients: list[subprocess.Popen] = []
    try:
        token = new_token(uri, "write")
        env = {**server_env, "MODELDB_URI": cluster.url, "MODELDB_TOKEN": token}
        logs = tmp_path / "clients"
        logs.mkdir()
        clients = [subprocess.Popen([sys.executable, "-c", CLIENT, str(c), str(TASKS)], env=env,
                                    stdout=(logs / f"{c}.log").open("wb"), stderr=subprocess.STDOUT)
                   for c in range(CLIENTS)]

        # Kill a replica once runs are flowing, while the clients still write.
        deadline = time.monotonic() + 60
        while _count(store) == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert any(c.poll() is None for c in clients), "the clients finished before the failover"
        victim = cluster.replicas[0]
        victim.kill()
        killed_at = _count(store)
        time.sleep(1.0)
        victim.start()

        for c in clients:
            assert c.wait(120) == 0, (logs / f"{clients.index(c)}.log").read_text()[-2000:]
        # A client that could not send everything before it exited (a busy machine) left the
        # rest in its journal, for the next ModelDB process on the machine or `modeldb sync`.
        deadline = time.monotonic() + 60
        while _count(store) < CLIENTS * TASKS and time.monotonic() < deadline:
            subprocess.run([sys.executable, "-m", "modeldb_core.cli", "sync"], env=env, capture_output=True,
                           timeout=60)
            time.sleep(0.2)

        records = list(store.stream_runs(build_query(project="scale")))
        calls = [(r.params["client"], r.params["i"]) for r in records]
        assert len(calls) == CLIENTS * TASKS, f"{len(calls)} runs landed ({killed_at} before the kill)"
        assert sorted(calls) == [(c, i) for c in range(CLIENTS) for i in range(TASKS)]  # each once
        assert {r.run.status for r in records} == {"succeeded"}
        assert killed_at < CLIENTS * TASKS
        # The restarted replica serves again: the proxy routes to it.
        for replica in cluster.replicas:
            with urllib.request.urlopen(replica.url + "/readyz", timeout=5) as answer:
                assert answer.status == 200
    finally:
        for c in clients:
            if c.poll() is None:
                c.kill()
        store.close()
        cluster.stop()


def test_the_compose_files_proxy_configuration_is_the_clusters():
    """deploy/nginx.conf (the compose file's) is nginx_conf rendered for the compose services."""
    committed = (Path(__file__).parents[2] / "deploy" / "nginx.conf").read_text()
    assert committed == nginx_conf(["modeldb-1:8080", "modeldb-2:8080"], "80")
