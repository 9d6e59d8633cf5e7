"""Bounded time on the read side (issue 15), printed: abusive searches, fuzzed filters, the server under load.

    python bench/bench_limits.py                   # 50,000 runs, SQLite (and PostgreSQL with --postgres)
    python bench/bench_limits.py --runs 100000 --fuzz 2000
    python bench/bench_limits.py --keep /tmp/limits.db   # reuse the store between invocations

Figures:
- ``params.kN is null`` with 64 / 128 / 256 terms (every run matches), and 200 ``not params.kN = 3``
  terms sorted on a param, under the 5 s web deadline: answered, or a QueryTimeoutError, and when;
- fuzzed filters (the grammar of tests/query/test_fuzz.py) against the store under the deadline:
  how many parsed, were refused (QueryError), timed out; the slowest answer;
- the real ``modeldb ui`` process while 4 clients send abusive requests in a loop: the latency of
  ``/`` (the target is < 1 s), and a lineage of 20,001 nodes: bytes and time of the bounded answer.

The machine is shared: wall times.
"""
from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

DEADLINE = 5.0
HEAVY_NOT = " and ".join(f"not params.k{i} = 3" for i in range(200))


def is_null_terms(n: int) -> str:
    return " and ".join(f"params.k{i} is null" for i in range(n))


def timed_search(store, text, order=None):
    from modeldb_core.errors import QueryError, QueryTimeoutError
    from modeldb_core.query import search_runs
    from modeldb_core.store import deadline

    started, cpu = time.perf_counter(), time.thread_time()
    with deadline.scope(DEADLINE):  # as the web app: one deadline for the whole request
        try:
            page = search_runs(text, order_by=order, limit=50, store=store)
            outcome = f"{len(page.runs)} runs"
        except QueryTimeoutError:
            outcome = "QueryTimeoutError"
        except QueryError as exc:
            outcome = f"QueryError ({exc.message[:40]})"
    # This thread's CPU time besides the wall time: what waiting for a core on a busy machine does not inflate.
    return time.perf_counter() - started, outcome, time.thread_time() - cpu


def searches(uri: str, label: str) -> None:
    from modeldb_core.store import deadline, open_store

    store = open_store(uri)
    deadline.install(store.engine, DEADLINE)
    for n in (64, 128, 256):
        seconds, outcome, _ = timed_search(store, is_null_terms(n))
        print(f"  [{label}] {n:3d} x 'params.kN is null':        {seconds:6.2f} s  {outcome}")
    seconds, outcome, _ = timed_search(store, HEAVY_NOT + ' and params.model = "rf"', "metrics.rmse")
    print(f"  [{label}] 200 x 'not params.kN = 3', by rmse:  {seconds:6.2f} s  {outcome}")
    seconds, outcome, _ = timed_search(store, HEAVY_NOT, "params.model")
    print(f"  [{label}] 200 x 'not params.kN = 3', by model: {seconds:6.2f} s  {outcome}")
    store.close()


def fuzz(uri: str, label: str, count: int, seed: int = 15) -> None:
    """Fuzzed filters against the store: the parse/refuse/timeout split and the slowest answer."""
    from modeldb_core.store import deadline, open_store

    sys.path.insert(0, str(HERE.parent / "tests" / "query"))
    from test_fuzz import FIELDS, KEYWORDS, OPERATORS, PUNCTUATION, VALUES  # noqa: E402

    rng = random.Random(seed)
    pool = FIELDS + OPERATORS + KEYWORDS + VALUES + PUNCTUATION
    store = open_store(uri)
    deadline.install(store.engine, DEADLINE)
    outcomes: dict[str, int] = {}
    slowest, most_cpu = (0.0, "", 0.0), 0.0

    def comparison() -> str:
        # Fields of the bench's runs with values of their type: most of these reach SQL.
        field, values = rng.choice([
            ("params.model", ['"rf"', '"gbm"', '"x%"']), ("params.max_depth", ["3", "8.5", "-1"]),
            ("params.learning_rate", ["0.1", "1e-3"]), ("metrics.rmse", ["0.5", "inf", "nan"]),
            ("metrics.r2", ["0.7"]), ("tags.team", ['"risk"', "1"]), ("status", ['"failed"']),
            ("started", ['"2026-11-01"']), (f"params.k{rng.randint(0, 300)}", ["1", '"a"'])])
        shape = rng.random()
        if shape < 0.6:
            op = rng.choice(["=", "!=", "<", "<=", ">", ">="]) if not field.startswith(("status", "tags")) \
                else rng.choice(["=", "!="])
            return f"{rng.choice(['', 'not '])}{field} {op} {rng.choice(values)}"
        if shape < 0.8:
            return f"{field} is {rng.choice(['', 'not '])}null"
        return f"{field} in ({', '.join(rng.choice(values) for _ in range(rng.randint(1, 20)))})"

    for _ in range(count):
        terms = [comparison() for _ in range(rng.randint(1, 60))]
        text = f" {rng.choice(['and', 'or'])} ".join(terms)
        if rng.random() < 0.2:
            text = "(" * rng.randint(0, 40) + text
        if rng.random() < 0.1:
            text += " " + " ".join(rng.choice(pool) for _ in range(rng.randint(1, 5)))
        seconds, outcome, cpu = timed_search(store, text, rng.choice([None, "metrics.rmse", "-params.depth"]))
        kind = outcome.split(" ")[0] if not outcome[0].isdigit() else "answered"
        outcomes[kind] = outcomes.get(kind, 0) + 1
        if seconds > slowest[0]:
            slowest = (seconds, text[:60], cpu)
        most_cpu = max(most_cpu, cpu)
    store.close()
    print(f"  [{label}] {count} fuzzed filters: {outcomes}; slowest {slowest[0]:.2f} s "
          f"({slowest[2]:.2f} s CPU; {slowest[1]!r}...); most CPU {most_cpu:.2f} s")


def lineage_fan(uri: str, width: int = 10_000) -> str:
    """One dataset read by ``width`` runs that each write an output: 2 * width + 1 nodes."""
    from modeldb_core.model import ArtifactVersion, NewRun
    from modeldb_core.store import open_store

    store = open_store(uri)
    source = ArtifactVersion(uri="file:///bench/source.csv", kind="file", content_hash="sha256:" + "a" * 64)
    new = [NewRun(project="lineage", name=f"reader-{i}", status="succeeded", started_at=1.8e9 + i,
                  ended_at=1.8e9 + i + 1, inputs=[("data", source)],
                  outputs=[("out", ArtifactVersion(uri=f"file:///bench/out-{i}.csv", kind="file",
                                                   content_hash="sha256:" + f"{i:064x}"))])
           for i in range(width)]
    for start in range(0, width, 2000):
        store.create_runs(new[start:start + 2000])
    version = store.find_artifact_versions("file:///bench/source.csv")[0].id
    store.close()
    return f"artifact:{version}"


def server_under_load(uri: str, home: str, node: str | None, seconds: float = 10.0) -> None:
    import httpx2 as httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "HOME": home, "MODELDB_URI": uri, "MODELDB_QUERY_TIMEOUT": str(DEADLINE)}
    modeldb = str(Path(sys.executable).parent / "modeldb")
    process = subprocess.Popen([modeldb, "ui", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(base + "/", timeout=30)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        if node:
            started = time.perf_counter()
            api = httpx.get(base + "/api/lineage", params={"node": node, "depth": 2}, timeout=60)
            api_s = time.perf_counter() - started
            if api.status_code != 200:
                raise SystemExit(f"/api/lineage answered {api.status_code}: {api.text[:300]}")
            started = time.perf_counter()
            page = httpx.get(base + "/lineage", params={"node": node, "depth": 2}, timeout=60)
            page_s = time.perf_counter() - started
            body = api.json()
            print(f"  lineage of {body['total_nodes']:,} nodes: API {len(api.content):,} bytes in {api_s:.2f} s "
                  f"({len(body['nodes'])} nodes, more={body['more']}); page {len(page.content):,} bytes "
                  f"in {page_s:.2f} s")
        abusive = [
            {"filter": HEAVY_NOT, "order": "params.model"},
            {"filter": is_null_terms(256)},
            {"order": ",".join(f"params.k{i}" for i in range(35))},
            {"filter": "(" * 400 + "id = 1" + ")" * 400},
            {"filter": f"id = {2**70}"},
        ]
        stop = threading.Event()
        counts = {"abusive": 0}

        def abuse(i: int) -> None:
            while not stop.is_set():
                try:
                    httpx.get(base + "/api/runs", params=abusive[(i + counts["abusive"]) % len(abusive)],
                              timeout=2 * DEADLINE)
                except httpx.HTTPError:
                    pass
                counts["abusive"] += 1

        workers = [threading.Thread(target=abuse, args=(i,), daemon=True) for i in range(4)]
        for w in workers:
            w.start()
        time.sleep(1.0)
        latencies = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            started = time.perf_counter()
            status = httpx.get(base + "/", timeout=30).status_code
            latencies.append(time.perf_counter() - started)
            assert status == 200
            time.sleep(0.2)
        stop.set()
        for w in workers:
            w.join(3 * DEADLINE)
        latencies.sort()
        verdict = "OK" if latencies[-1] < 1.0 else "OVER the 1 s target"
        print(f"  '/' while 4 clients send abusive requests ({counts['abusive']} sent): "
              f"median {statistics.median(latencies) * 1000:.0f} ms, "
              f"p95 {latencies[int(len(latencies) * 0.95) - 1] * 1000:.0f} ms, "
              f"max {latencies[-1] * 1000:.0f} ms  {verdict}; server alive: {process.poll() is None}")
    finally:
        process.terminate()
        process.wait(10)


def main() -> None:
    from bench_query import ingest

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50_000)
    parser.add_argument("--fuzz", type=int, default=500)
    parser.add_argument("--keep", help="SQLite file to create once and reuse")
    parser.add_argument("--postgres", action="store_true", help="also on a throwaway PostgreSQL")
    parser.add_argument("--no-server", action="store_true")
    parser.add_argument("--no-searches", action="store_true", help="only the fuzzed filters (and the server)")
    parser.add_argument("--seed", type=int, default=15, help="of the fuzzed filters (another seed, other filters)")
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="modeldb-limits-")
    os.environ["HOME"] = folder
    path = args.keep or os.path.join(folder, "limits.db")
    uri = f"sqlite:///{path}"
    node = None
    if not os.path.exists(path):
        started = time.perf_counter()
        ingest(uri, args.runs)
        node = lineage_fan(uri)
        print(f"store: {args.runs:,} runs + a lineage of 20,001 nodes in {time.perf_counter() - started:.0f} s")
    else:
        from modeldb_core.store import open_store

        found = open_store(uri).find_artifact_versions("file:///bench/source.csv")
        node = f"artifact:{found[0].id}" if found else lineage_fan(uri)
    import sqlite3

    print(f"SQLite {sqlite3.sqlite_version}, {args.runs:,} runs, deadline {DEADLINE:g} s")
    if not args.no_searches:
        searches(uri, "sqlite")
    fuzz(uri, "sqlite", args.fuzz, args.seed)
    if not args.no_server:
        server_under_load(uri, folder, node)
    if args.postgres:
        sys.path.insert(0, str(HERE.parent / "tests"))
        from conftest import PostgresServer, _pg_bin

        server = PostgresServer(_pg_bin()).start()
        try:
            pg = server.new_database()
            ingest(pg, args.runs)
            if not args.no_searches:
                searches(pg, "postgres")
            fuzz(pg, "postgres", args.fuzz, args.seed)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
