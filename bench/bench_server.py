"""Event ingest through one `modeldb server` process (uvicorn), on SQLite and PostgreSQL.

    python bench/bench_server.py [--runs 20000] [--batch 5000] [--clients 2] [--postgres URL]
    python bench/bench_server.py --cluster --postgres URL [--processes 16] [--tasks 1000]

Each run is what a tracked task journals with 10 params, 5 metrics and 3 tags
(a ``started`` carrying params and tags, 5 ``metric``, an ``ended``: 7 events).
The client side is ``HttpStore.apply_events`` (what the tracking runtime's writer
calls), ``--clients`` threads posting batches of ``--batch`` events at once. Prints
events/s and runs/s, the median and p99 latency of one batch, then OpenLineage
ingest (START/COMPLETE pairs with one input and one output, 500 events a request).
The server starts with --no-auth on loopback (a token check is one indexed read
per request). PostgreSQL needs --postgres (an empty database's URL).

``--cluster`` is the scale and failover run: ``--processes`` client processes each
track ``--tasks`` tasks (a ``@tracked_task`` logging 3 metrics) through nginx into two
replicas on PostgreSQL (``modeldb_core.server.cluster``); replica 0 is SIGKILLed when
half the runs have landed and restarted a second later. Prints runs/s from the
clients' start to the last run landed, the median and p99 latency of a batch as nginx
timed it, the batches that failed over, and whether every run landed exactly once.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(uri: str, home: Path, tls: tuple[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    """A server on loopback; ``tls``: its certificate and key files (the client must trust the
    certificate: ``SSL_CERT_FILE``)."""
    port = _port()
    env = {**os.environ, "HOME": str(home)}
    more = ["--ssl-certfile", tls[0], "--ssl-keyfile", tls[1]] if tls else []
    process = subprocess.Popen([sys.executable, "-m", "modeldb_core.cli", "--uri", uri, "server",
                                "--port", str(port), "--no-auth", *more], env=env,
                               stdout=subprocess.DEVNULL, stderr=open(os.environ.get("BENCH_SERVER_LOG", os.devnull), "ab"))
    url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    for _ in range(600):
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1).close()
            return process, url
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the server did not start")


def _run_events(seq_start: int) -> list:
    from modeldb_core.events import ENDED, METRIC, STARTED, Event, uuid7

    run_id, now = uuid7(), time.time()
    seq = seq_start
    out = [Event(STARTED, run_id, seq, {
        "project": "bench", "name": "train", "started_at": now, "orchestrator": "python",
        "params": {f"p{i}": i * 1.5 for i in range(10)},
        "tags": {"team": "pricing", "owner": "me", "stage": "dev"}})]
    for k in ("rmse", "mae", "r2", "loss", "acc"):
        seq += 1
        out.append(Event(METRIC, run_id, seq, ["" + k, 0.5, 0, now]))
    out.append(Event(ENDED, run_id, seq + 1, {"status": "succeeded", "ended_at": now + 1}))
    return out


def ingest(url: str, runs: int, batch: int, clients: int) -> dict[str, float]:
    from modeldb_core.store.http_store import HttpStore

    events = [e for i in range(runs) for e in _run_events(i * 10 + 1)]
    batches = [events[i:i + batch] for i in range(0, len(events), batch)]
    latencies: list[float] = []
    lock = threading.Lock()

    def post(mine: list) -> None:
        store = HttpStore(url, token="")
        for chunk in mine:
            start = time.perf_counter()
            store.apply_events(chunk, {})
            with lock:
                latencies.append(time.perf_counter() - start)

    threads = [threading.Thread(target=post, args=(batches[i::clients],)) for i in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {"events/s": len(events) / elapsed, "runs/s": runs / elapsed,
            "batch median ms": statistics.median(latencies) * 1000,
            "batch p99 ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000}


def openlineage(url: str, pairs: int) -> dict[str, float]:
    producer = "https://example.com/bench"
    events = []
    for i in range(pairs):
        run_id = str(uuid.uuid4())
        for kind, at in (("START", "2026-12-01T10:00:00Z"), ("COMPLETE", "2026-12-01T10:01:00Z")):
            events.append({"eventType": kind, "eventTime": at, "producer": producer,
                           "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
                           "run": {"runId": run_id}, "job": {"namespace": "bench", "name": f"job{i % 10}"},
                           "inputs": [{"namespace": "s3://bucket", "name": f"in/{i % 50}"}],
                           "outputs": [{"namespace": "s3://bucket", "name": f"out/{i}"}]})
    start = time.perf_counter()
    for i in range(0, len(events), 500):
        body = json.dumps(events[i:i + 500]).encode()
        request = urllib.request.Request(url + "/api/v1/lineage", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=600).close()
    elapsed = time.perf_counter() - start
    return {"OpenLineage events/s": len(events) / elapsed}


CLUSTER_CLIENT = """
import sys
import modeldb_core

@modeldb_core.tracked_task(project="scale")
def train(client: int, i: int) -> int:
    modeldb_core.log_metrics({"loss": 1 / (i + 1), "acc": 0.5, "rmse": 0.1})
    return i

for i in range(int(sys.argv[2])):
    train(int(sys.argv[1]), i)
"""


def cluster(postgres: str, processes: int, tasks: int) -> None:
    from modeldb_core.query import build_query
    from modeldb_core.server.cluster import Cluster
    from modeldb_core.store import open_store

    total = processes * tasks
    with tempfile.TemporaryDirectory() as tmp:
        access_log = Path(tmp) / "access.log"
        topology = Cluster(postgres, replicas=2, workdir=Path(tmp) / "cluster", server_args=["--no-auth"],
                           access_log=access_log).start()
        store = open_store(postgres)

        def landed() -> int:
            from sqlalchemy import text

            with store.engine.connect() as conn:  # a count of ended runs, not 16,000 runs read back
                return conn.execute(text("SELECT count(*) FROM runs WHERE status <> 'running'")).scalar_one()

        try:
            env = {**os.environ, "HOME": tmp, "MODELDB_URI": topology.url}
            start = time.perf_counter()
            clients = [subprocess.Popen([sys.executable, "-c", CLUSTER_CLIENT, str(c), str(tasks)], env=env)
                       for c in range(processes)]
            while landed() < total // 2 and any(c.poll() is None for c in clients):
                time.sleep(0.5)
            topology.replicas[0].kill()
            killed_at = time.perf_counter() - start
            time.sleep(1.0)
            topology.replicas[0].start()
            failed = sum(c.wait() != 0 for c in clients)
            clients_done = time.perf_counter() - start
            # What a client could not send before it exited stays in its journal, for the next
            # ModelDB process on the machine or `modeldb sync`: the bench runs the latter.
            syncs = 0
            while (count := landed()) < total and time.perf_counter() - start < 1800:
                subprocess.run([sys.executable, "-m", "modeldb_core.cli", "sync"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                syncs += 1
                time.sleep(0.5)
            elapsed = time.perf_counter() - start
            calls = [(r.params["client"], r.params["i"]) for r in store.stream_runs(build_query(project="scale"))]
        finally:
            store.close()
            topology.stop()
        batches = [line.split() for line in access_log.read_text().splitlines() if f" {_EVENTS} " in line]
        seconds = sorted(float(b[3]) for b in batches if b[2] == "200")
        print(f"cluster (2 replicas, PostgreSQL, nginx; {processes} processes x {tasks} tasks, replica 0 killed "
              f"at {killed_at:.1f} s): runs/s {total / elapsed:,.0f}, {count:,} runs landed "
              f"({len(set(calls)):,} distinct calls, {'exactly once' if sorted(calls) == sorted(set(calls)) and len(calls) == total else 'NOT exactly once'}), "
              f"batches {len(seconds):,} (median {statistics.median(seconds) * 1000:,.0f} ms, "
              f"p99 {seconds[min(len(seconds) - 1, int(len(seconds) * 0.99))] * 1000:,.0f} ms), "
              f"batches answered otherwise {len(batches) - len(seconds)}, client processes failed {failed}, "
              f"clients exited at {clients_done:.1f} s, `modeldb sync` runs {syncs}",
              flush=True)


_EVENTS = "/api/v1/events"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--openlineage", type=int, default=1000, help="START/COMPLETE pairs")
    parser.add_argument("--postgres", metavar="URL")
    parser.add_argument("--cluster", action="store_true", help="2 replicas behind nginx, one killed mid-way")
    parser.add_argument("--processes", type=int, default=16)
    parser.add_argument("--tasks", type=int, default=1000, help="tracked tasks per client process")
    args = parser.parse_args()
    if args.cluster:
        if not args.postgres:
            raise SystemExit("--cluster needs --postgres URL (an empty database)")
        return cluster(args.postgres, args.processes, args.tasks)
    with tempfile.TemporaryDirectory() as tmp:
        stores = [("SQLite", f"sqlite:///{tmp}/bench.db")]
        if args.postgres:
            stores.append(("PostgreSQL", args.postgres))
        for label, uri in stores:
            process, url = _serve(uri, Path(tmp))
            try:
                found = ingest(url, args.runs, args.batch, args.clients)
                found.update(openlineage(url, args.openlineage))
            finally:
                process.terminate()
                process.wait(30)
            print(f"{label}: " + ", ".join(f"{k} {v:,.0f}" for k, v in found.items()), flush=True)


if __name__ == "__main__":
    main()
