"""`modeldb ui` as a service, through the real server process: what a hostile network sees.

Host allow-list, security headers, token authentication, the warning for an
open bind, bounded and validated queries (the server stays up and answers `/`
within 1 s after each abusive request), the read deadline and the
cancellation of a request whose client went away. The pages are checked in a
real Chromium under the real Content-Security-Policy.
"""
from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx2 as httpx  # the `test` extra installs httpx2 (what Starlette 1.x uses)
import pytest

from .conftest import populate

MODELDB = str(Path(sys.executable).parent / "modeldb")
TOKEN = "s3cret-token-for-the-tests-0123456789"
# A search that keeps SQLite busy for many seconds on a few thousand runs: 250 conditions
# (the limit is 256), each a correlated subquery, and a sort on a param.
HEAVY = " and ".join(f"not params.k{i} = 3" for i in range(250))
HEAVY_ORDER = "params.model"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`modeldb ui` in its own process; stderr collected on a thread."""

    def __init__(self, uri: str, home: Path, host: str = "127.0.0.1", **env: str):
        self.port = _free_port()
        self.host = host
        self.base = f"http://127.0.0.1:{self.port}"
        self.stderr: list[str] = []
        environment = {k: v for k, v in os.environ.items() if not k.startswith("MODELDB_")}
        environment.update(HOME=str(home), MODELDB_URI=uri, **env)
        self.process = subprocess.Popen([MODELDB, "ui", "--host", host, "--port", str(self.port)],
                                        env=environment, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._collect, daemon=True).start()
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"modeldb ui did not start: {''.join(self.stderr)}")
                time.sleep(0.05)

    def _collect(self) -> None:
        for line in self.process.stderr:
            self.stderr.append(line)

    def log(self) -> str:
        return "".join(self.stderr)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture(scope="module")
def recorded_store(tmp_path_factory):
    """A small recorded project plus 3,000 bulk-logged runs with 10 params each (SQLite)."""
    from modeldb_core.bulk import log_runs

    folder = tmp_path_factory.mktemp("service")
    uri = f"sqlite:///{folder / 'modeldb.db'}"
    old_home = os.environ.get("HOME")
    os.environ["HOME"] = str(folder)
    try:
        ids = populate(uri, folder)
        records = [{"name": f"bulk-{i}", "started_at": 1.79e9 + i, "ended_at": 1.79e9 + i + 5,
                    "params": {"model": ("rf", "gbm", "linear")[i % 3], **{f"p{j}": (i * j) % 97 for j in range(9)}},
                    "metrics": {"rmse": (i % 100) / 100}} for i in range(3_000)]
        log_runs(records, project="bulk", store=uri)
    finally:
        if old_home is not None:
            os.environ["HOME"] = old_home
    return uri, ids, folder


@pytest.fixture(scope="module")
def server(recorded_store):
    uri, ids, folder = recorded_store
    running = Server(uri, folder, MODELDB_QUERY_TIMEOUT="60")
    yield running, ids
    running.stop()


def _answers_home_quickly(base: str) -> None:
    started = time.monotonic()
    response = httpx.get(base + "/", timeout=5)
    assert response.status_code == 200
    # A server stuck behind other requests would take their whole time (10 s and more); 3 s
    # leaves room for a loaded CI machine.
    assert time.monotonic() - started < 3.0, "the server took over 3 s to answer /"


def test_every_answer_carries_the_security_headers(server):
    running, ids = server
    for path in ("/", f"/runs/{ids['train0']}", "/api/runs", "/static/modeldb.js", "/no/such/page"):
        headers = httpx.get(running.base + path, timeout=10).headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp, path
        assert "frame-ancestors 'self'" in csp and "object-src 'none'" in csp
        assert headers["x-content-type-options"] == "nosniff"


def test_only_the_bind_address_and_localhost_are_answered(server):
    running, _ = server
    for host in (f"localhost:{running.port}", f"127.0.0.1:{running.port}", "localhost"):
        assert httpx.get(running.base + "/api/projects", headers={"Host": host}, timeout=10).status_code == 200
    for host in ("evil.example", f"evil.example:{running.port}", "127.0.0.1.nip.io", ""):
        response = httpx.get(running.base + "/api/projects", headers={"Host": host}, timeout=10)
        assert response.status_code == 400, host
        assert "churn" not in response.text


ABUSE = [
    ("/api/runs", {"order": ",".join(f"params.k{i}" for i in range(35))}, 400, "MAX_SORT_KEYS"),
    ("/runs", {"order": ",".join(f"params.k{i}" for i in range(35))}, 200, "MAX_SORT_KEYS"),
    ("/api/runs", {"filter": "(" * 400 + 'status = "failed"' + ")" * 400}, 400, "MAX_DEPTH"),
    ("/api/runs", {"filter": " or ".join(f"params.k{i} is null" for i in range(2000))}, 400, "MAX_FILTER_LENGTH"),
    ("/api/runs", {"filter": " or ".join(f"id={i}" for i in range(300))}, 400, "MAX_TERMS"),
    ("/api/runs", {"filter": f"id = {2**70}"}, 200, '"runs":[]'),
    (f"/api/runs/{2**70}", {}, 400, "run id"),
    (f"/api/runs/{2**70}/metrics/auc", {}, 400, "run id"),
    (f"/runs/{2**70}", {}, 404, "Not found"),
    ("/api/lineage", {"node": f"run:{2**70}"}, 400, "run id"),
    ("/api/compare", {"ids": [str(2**70), "1"]}, 400, "run id"),
    ("/api/runs/groups", {"group": "params.model", "metrics": [f"m{i}" for i in range(30)]}, 400,
     "MAX_GROUP_METRICS"),
    ("/api/runs", {"q": "x" * 5000}, 400, "MAX_SEARCH"),
    ("/api/runs", {"cursor": "x" * 5000}, 400, "cursor"),
]


@pytest.mark.parametrize("path, params, status, words", ABUSE, ids=[f"{a[0]}-{a[3]}" for a in ABUSE])
def test_abusive_requests_get_a_clean_answer_naming_the_limit(server, path, params, status, words):
    running, _ = server
    response = httpx.get(running.base + path, params=params, timeout=30)
    assert response.status_code == status, response.text[:500]
    assert words in response.text
    assert "Traceback" not in response.text and len(response.content) < 200_000
    assert running.process.poll() is None, running.log()
    _answers_home_quickly(running.base)


def test_a_read_past_query_timeout_is_a_clear_503(recorded_store):
    uri, _, folder = recorded_store
    running = Server(uri, folder, MODELDB_QUERY_TIMEOUT="1")
    try:
        started = time.monotonic()
        response = httpx.get(running.base + "/api/runs", params={"filter": HEAVY, "order": HEAVY_ORDER},
                             timeout=60)
        elapsed = time.monotonic() - started
        assert response.status_code == 503
        error = response.json()["error"]
        assert error["kind"] == "timeout" and error["limit"] == "query_timeout" and error["seconds"] == 1
        assert "query_timeout" in error["message"]
        assert elapsed < 6, elapsed  # 1 s, plus compiling the statement on a busy machine
        _answers_home_quickly(running.base)
    finally:
        running.stop()


def test_the_reads_of_a_client_that_went_away_stop(server):
    running, _ = server
    query = httpx.QueryParams({"filter": HEAVY, "order": HEAVY_ORDER})
    request = (f"GET /api/runs?{query} HTTP/1.1\r\nHost: 127.0.0.1:{running.port}\r\n"
               f"Connection: close\r\n\r\n").encode()
    before = len(running.stderr)
    with socket.create_connection(("127.0.0.1", running.port)) as sock:
        sock.sendall(request)
        time.sleep(1.0)  # the statement is running (it takes far longer than this alone)
    left = time.monotonic()
    while "stopped GET /api/runs" not in "".join(running.stderr[before:]):
        assert time.monotonic() - left < 5, running.log()
        time.sleep(0.05)
    log = "".join(running.stderr[before:])
    assert "client went away" in log and "the query was cancelled" in log
    _answers_home_quickly(running.base)


def test_home_answers_at_once_while_heavy_requests_run(server):
    running, _ = server
    heavy = [threading.Thread(target=_get_quietly, args=(running.base,)) for _ in range(4)]
    for t in heavy:
        t.start()
    time.sleep(0.5)
    for _ in range(3):
        _answers_home_quickly(running.base)
    for t in heavy:
        t.join(20)


def _get_quietly(base: str) -> None:
    try:
        httpx.get(base + "/api/runs", params={"filter": HEAVY, "order": HEAVY_ORDER}, timeout=10)
    except httpx.TimeoutException:
        pass  # the client gives up: the server cancels the read


def test_lineage_answers_are_bounded_with_more_paging(server):
    running, ids = server
    node = f"artifact:{_first_artifact(running, ids)}"
    whole = httpx.get(running.base + "/api/lineage", params={"node": node}, timeout=10).json()
    assert whole["more"] is None and whole["total_nodes"] == len(whole["nodes"]) >= 5
    keys, edges, offset = [], set(), 0
    while True:
        page = httpx.get(running.base + "/api/lineage", params={"node": node, "limit": 2, "offset": offset},
                         timeout=10).json()
        assert len(page["nodes"]) <= 2
        keys += [n["key"] for n in page["nodes"]]
        edges |= {(e["source"], e["target"]) for e in page["edges"]}
        if page["more"] is None:
            break
        offset = page["more"]["offset"]
    assert sorted(keys) == sorted(n["key"] for n in whole["nodes"])
    assert edges == {(e["source"], e["target"]) for e in whole["edges"]}
    html = httpx.get(running.base + "/lineage", params={"node": node}, timeout=10).text
    assert "lineage-nodes" in html


def _first_artifact(running, ids) -> int:
    detail = httpx.get(f"{running.base}/api/runs/{ids['prep']}", timeout=10).json()
    return detail["outputs"][0]["artifact_version_id"]


def test_a_token_is_required_when_configured(recorded_store):
    uri, _, folder = recorded_store
    running = Server(uri, folder, MODELDB_UI_TOKEN=TOKEN)
    try:
        bare = httpx.get(running.base + "/api/projects", timeout=10)
        assert bare.status_code == 401 and bare.headers["www-authenticate"].startswith("Basic")
        assert "churn" not in bare.text
        for wrong in ("Bearer nope", "Bearer " + TOKEN[:-1], "Basic " + base64.b64encode(b"u:nope").decode(),
                      "Basic !!!", "Token " + TOKEN):
            assert httpx.get(running.base + "/api/projects", headers={"Authorization": wrong},
                             timeout=10).status_code == 401, wrong
        assert httpx.get(running.base + "/api/projects", headers={"Authorization": f"Bearer {TOKEN}"},
                         timeout=10).status_code == 200
        assert httpx.get(running.base + "/", auth=("anyone", TOKEN), timeout=10).status_code == 200
        assert "Warning" not in running.log()
    finally:
        running.stop()


def test_an_open_bind_without_a_token_prints_a_warning(recorded_store):
    uri, _, folder = recorded_store
    running = Server(uri, folder, host="0.0.0.0")
    try:
        deadline = time.monotonic() + 10
        while "without authentication" not in running.log():
            assert time.monotonic() < deadline, running.log()
            time.sleep(0.05)
        assert "MODELDB_UI_TOKEN" in running.log()
    finally:
        running.stop()


def test_pages_work_under_the_real_content_security_policy(server, browser):
    """No CSP violation on any page (Chromium reports each as a console error), and the scripts ran."""
    running, ids = server
    context = browser.new_context()  # the CSP enforced, unlike the other browser tests
    try:
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        checks = [
            ("/projects/churn", "svg"),
            (f"/runs/{ids['train0']}", "h1"),
            (f"/lineage?node=run:{ids['train0']}", "#lineage svg"),
            ("/runs?project=churn", "table"),
            ("/api-docs", "h1"),
        ]
        for path, selector in checks:
            page.goto(running.base + path)
            page.locator(selector).first.wait_for(timeout=10_000)
        assert not problems, problems
    finally:
        context.close()
