"""Registry calls through `modeldb server` beside the same calls on the database (SQLite).

    python bench/bench_remote_registry.py [--calls 200] [--blob-mb 8] [--tls]

For each call (register a version, resolve ``models:/name@alias`` without detail,
promote, record a deployment, list what serves) prints the median and p99 in ms on
a SQLite store and through one server process on loopback over another SQLite
file, then the seconds to push and pull a blob of ``--blob-mb`` MiB through the
server (``/api/v1/artifacts``). The server runs with --no-auth (a token check is
one indexed read per request); ``--tls``: over HTTPS, with a self-signed certificate
made by ``openssl`` for the run.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_server import _serve  # noqa: E402 - one way to start a server for benchmarks


def _content(label: str):
    from modeldb_core.model import ArtifactVersion

    digest = hashlib.sha256(label.encode()).hexdigest()
    return ArtifactVersion(uri=f"file:///nowhere/{label}.pkl", kind="model", content_hash=f"sha256:{digest}",
                           size=10)


def _timed(calls: int, call) -> tuple[float, float]:
    took = []
    for n in range(calls):
        start = time.perf_counter()
        call(n)
        took.append(time.perf_counter() - start)
    took.sort()
    return statistics.median(took) * 1000, took[min(len(took) - 1, int(len(took) * 0.99))] * 1000


def measure(store, calls: int) -> dict[str, tuple[float, float]]:
    store.register_model_version("pricing", _content("first"), "bench")
    return {
        "register_model_version": _timed(calls, lambda n: store.register_model_version(
            "pricing", _content(f"v{n}"), "bench")),
        "resolve_model @alias": (store.promote("models:/pricing/1", "production", "bench"), _timed(
            calls, lambda n: store.resolve_model("models:/pricing@production", detail=False)))[1],
        "promote": _timed(calls, lambda n: store.promote(f"models:/pricing/{n % 50 + 1}", "staging", "bench")),
        "record_deployment": _timed(calls, lambda n: store.record_deployment(
            f"models:/pricing/{n % 50 + 1}", "prod", "bench")),
        "deployments (serving)": _timed(calls, lambda n: store.deployments(model="pricing")),
    }


def _self_signed(home: Path) -> tuple[str, str]:
    """A certificate for 127.0.0.1 and its key, trusted by this process (``SSL_CERT_FILE``)."""
    import subprocess

    cert, key = str(home / "cert.pem"), str(home / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    os.environ["SSL_CERT_FILE"] = cert
    return cert, key


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--blob-mb", type=int, default=8)
    parser.add_argument("--tls", action="store_true", help="HTTPS, with a self-signed certificate")
    args = parser.parse_args()
    from modeldb_core.artifact_store import ArtifactStore
    from modeldb_core.store import open_store
    from modeldb_core.store.http_store import HttpStore

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        local = open_store(f"sqlite:///{home / 'local.db'}")
        local.upgrade()
        served_uri = f"sqlite:///{home / 'served.db'}"
        with open_store(served_uri) as served:
            served.upgrade()
        tls = _self_signed(home) if args.tls else None
        process, url = _serve(served_uri, home, tls)
        try:
            remote = HttpStore(url, token="")
            here, there = measure(local, args.calls), measure(remote, args.calls)
            print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; {args.calls} calls each; "
                  f"server over {url.split(':')[0].upper()}")
            print(f"{'call':<26}{'SQLite median/p99 ms':>24}{'server median/p99 ms':>24}")
            for name in here:
                print(f"{name:<26}{here[name][0]:>12.2f}{here[name][1]:>12.2f}"
                      f"{there[name][0]:>12.2f}{there[name][1]:>12.2f}")
            data = os.urandom(args.blob_mb * 1024 * 1024)
            start = time.perf_counter()
            blob = ArtifactStore(home / "a", remote=remote).put_bytes(data)
            pushed = time.perf_counter() - start
            start = time.perf_counter()
            ArtifactStore(home / "b", remote=remote).fetch(blob.content_hash)
            pulled = time.perf_counter() - start
            print(f"blob of {args.blob_mb} MiB: stored and pushed {pushed:.2f} s, pulled and checked {pulled:.2f} s")
        finally:
            process.terminate()
            process.wait(30)
            local.close()


if __name__ == "__main__":
    main()
