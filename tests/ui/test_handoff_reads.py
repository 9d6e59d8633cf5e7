"""The web app and ``search_runs(store=URI)`` read after a tracked process exits
(docs/tracking-runtime.md, exit handoff).

A short script whose writer could not open the store before it ended hands its journal to
a background writer (``modeldb_core.handoff``) and exits. A page asked for right then waits
for that writer, as ``modeldb runs list`` does, and shows the run. The store is a real
SQLite file whose write lock another real process holds for a few seconds, so the handoff
is still under way when the request arrives.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx2 as httpx

from modeldb_core import config, handoff, journal
from modeldb_core.store import open_store
from tests.conftest import serving

def _hold_write_lock(path: str, release: Path) -> subprocess.Popen:
    """Another process holding the store's write lock until ``release`` exists."""
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import pathlib, sqlite3, time
        conn = sqlite3.connect({path!r}, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        print("locked", flush=True)
        deadline = time.monotonic() + 60
        while not pathlib.Path({str(release)!r}).exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        conn.execute("ROLLBACK")
    """)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


_SCRIPT = textwrap.dedent("""
    import sys, modeldb_core as mdb
    mdb.configure(uri=sys.argv[1])
    with mdb.start_run("train", project="handoff", phase="training", parent=None,
                       params={"learning_rate": 0.1}) as run:
        run.log_metric("rmse", 21.37)
""")


def _handed_off(sqlite_uri: str) -> Path:
    """Run the script, which exits with its journal handed to a background writer; its folder."""
    done = subprocess.run([sys.executable, "-c", _SCRIPT, sqlite_uri], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "MODELDB_EXIT_TIMEOUT": "30"})
    assert done.returncode == 0, done.stderr
    folder = journal.folder_for(config.resolve(uri=sqlite_uri).journal, sqlite_uri)
    # The script is gone and its run is not in the store yet: a background writer has it.
    assert handoff.in_progress(folder), "the script did not hand its journal off"
    return folder


def test_a_page_right_after_a_script_ends_shows_its_run(sqlite_uri, tmp_path, monkeypatch):
    # The wait counts against the read deadline: a loaded machine's background writer may
    # need more than the default 5 s once the lock is gone.
    monkeypatch.setenv("MODELDB_QUERY_TIMEOUT", "60")
    open_store(sqlite_uri).close()  # the schema exists before the lock is taken
    with serving(sqlite_uri) as base:
        assert httpx.get(base + "/api/projects", timeout=10).status_code == 200  # the app's store is open
        release = tmp_path / "release"
        holder = _hold_write_lock(sqlite_uri.removeprefix("sqlite:///"), release)
        try:
            folder = _handed_off(sqlite_uri)

            answers: list[httpx.Response] = []
            page = threading.Thread(target=lambda: answers.append(
                httpx.get(base + "/api/runs", params={"project": "handoff"}, timeout=30)))
            page.start()
            time.sleep(1.0)
            assert not answers, "the page answered before the run was written"
            # While the page waits, the server answers requests that read nothing, at once.
            started = time.monotonic()
            assert httpx.get(base + "/api/openapi.json", timeout=10).status_code == 200
            quick = time.monotonic() - started
            release.write_text("now")  # the background writer can write the run
            page.join(30)
        finally:
            holder.wait(timeout=60)
    [answer] = answers
    assert answer.status_code == 200, answer.text
    runs = answer.json()["runs"]
    assert [r["run"]["name"] for r in runs] == ["train"]
    assert runs[0]["params"] == {"learning_rate": 0.1} and runs[0]["metrics"] == {"rmse": 21.37}
    assert quick < 1.0, quick
    assert not handoff.in_progress(folder) and not list(Path(folder).glob("*" + journal.SUFFIX))


def test_a_search_given_the_store_uri_right_after_a_script_ends_finds_its_run(sqlite_uri, tmp_path):
    """``search_runs(store=URI)`` opens the store as ``client.store`` and the web app do
    (``modeldb_core.reading``): it waits for the handed-off journal, then finds the run."""
    from modeldb_core.query import search_runs

    open_store(sqlite_uri).close()
    release = tmp_path / "release"
    holder = _hold_write_lock(sqlite_uri.removeprefix("sqlite:///"), release)
    try:
        folder = _handed_off(sqlite_uri)
        found: list = []
        search = threading.Thread(target=lambda: found.append(search_runs(project="handoff", store=sqlite_uri)))
        search.start()
        search.join(1.0)
        assert not found, "the search answered before the run was written"
        release.write_text("now")
        search.join(30)
    finally:
        holder.wait(timeout=60)
    [page] = found
    assert [r.name for r in page.runs] == ["train"] and page.runs[0].metrics == {"rmse": 21.37}
    assert not handoff.in_progress(folder)
