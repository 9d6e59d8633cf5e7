"""A newcomer follows the README: its "Try it" commands, as written, in a fresh clone with a fresh HOME.

The clone is of the commit checked out (commit a README change before running
this). The commands run in one bash shell, as a user pastes them; only
`modeldb ui`, which serves until stopped, is started on its own and asked for
its pages. pip keeps its usual download cache so the test costs about a
minute, not a download of scikit-learn.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Read before the tests' fixtures point HOME at a temporary folder.
PIP_CACHE = os.environ.get("PIP_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "pip")
MARK = "::: "


def _try_it_commands() -> list[str]:
    """The shell lines of the README's "Try it" section, in order."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Try it\n(.*?)(?=^## )", readme, re.M | re.S)
    assert section, "README.md has a '## Try it' section"
    lines = []
    for block in re.findall(r"^```bash\n(.*?)^```", section.group(1), re.M | re.S):
        lines += [line.strip() for line in block.splitlines()
                  if line.strip() and not line.strip().startswith("#")]
    return lines


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, deadline: float, server: subprocess.Popen) -> str:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                assert response.status == 200, url
                return response.read().decode()
        except OSError:
            if time.time() > deadline or server.poll() is not None:
                raise
            time.sleep(0.3)


@pytest.mark.readme
def test_a_newcomer_runs_the_readme_as_written(tmp_path):
    commands = _try_it_commands()
    assert commands[0].startswith("python3 -m venv .venv") and "modeldb demo" in commands[0]
    assert any(c.startswith("modeldb runs list") for c in commands)
    assert any(c.startswith("modeldb best") for c in commands)
    assert commands[-1].startswith("modeldb ui")

    clone = tmp_path / "modeldb"
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    subprocess.run(["git", "clone", "--quiet", "--no-local", str(ROOT), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "--quiet", head], check=True)
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MODELDB_", "VIRTUAL_ENV", "PYTHONPATH", "NOX_"))}
    # No bytecode compiling: the clone is thrown away after one run (it saves ~40 s).
    env.update(HOME=str(home), PIP_CACHE_DIR=PIP_CACHE, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_COMPILE="1")
    # The interpreter a user would have: the one the tests run under stands in for `python3` on PATH,
    # without this virtual environment's own bin folder in front of it.
    shell_path = [p for p in env["PATH"].split(os.pathsep)
                  if not (Path(p) / "activate").exists()]
    env["PATH"] = os.pathsep.join(shell_path)
    assert shutil.which("python3", path=env["PATH"]), "python3 on PATH"

    *shell, ui = commands
    script = "set -euo pipefail\n" + "".join(f"echo {shlex.quote(MARK + c)}\n{c}\n" for c in shell)
    done = subprocess.run(["bash", "-c", script], cwd=clone, env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    outputs = dict(re.findall(rf"^{re.escape(MARK)}(.*?)\n(.*?)(?=^{re.escape(MARK)}|\Z)", done.stdout,
                              re.M | re.S))
    demo = outputs[commands[0]]
    said = re.search(r"^Best: (\S+), run ([0-9a-f-]+) \(rmse ([\d.]+)\)", demo, re.M)
    assert said, demo
    best_id = said.group(2)
    listing = next(out for cmd, out in outputs.items() if cmd.startswith("modeldb runs list"))
    rows = listing.splitlines()[2:]
    assert len(rows) >= 20 and all(" house-prices " in r for r in rows), listing
    best = next(out for cmd, out in outputs.items() if cmd.startswith("modeldb best"))
    assert re.match(rf"Best run by rmse \(lowest\): run {best_id} ", best), best
    assert "Traceback" not in done.stderr

    # `modeldb ui` as written, on its default port when free (the machine may be serving another).
    command = ui if _port_free(5000) else f"{ui} --port {_free_port()}"
    port = int(re.search(r"--port (\d+)", command).group(1)) if "--port" in command else 5000
    server = subprocess.Popen(["bash", "-c", f". .venv/bin/activate && exec {command}"], cwd=clone,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 60
        home_page = _get(f"http://127.0.0.1:{port}/", deadline, server)
        assert "house-prices" in home_page
        run_page = _get(f"http://127.0.0.1:{port}/runs/{best_id}", deadline, server)
        assert "rmse" in run_page
    finally:
        server.terminate()
        server.wait(timeout=30)
