"""Helpers of the registry tests: model contents made up as artifact versions, runs made by tracking."""
from __future__ import annotations

import hashlib

import pytest

from modeldb_core.model import ArtifactVersion


def content(label: str) -> ArtifactVersion:
    """A model file's version as fingerprinting would record it (no file needed)."""
    digest = hashlib.sha256(label.encode()).hexdigest()
    return ArtifactVersion(uri=f"file:///models/{label}.pkl", kind="model", content_hash=f"sha256:{digest}",
                           size=100)


@pytest.fixture
def trained(tracking):
    """``trained(rmse, data=...)``: a finished training run that logged ``rmse`` and read ``data``; its id."""
    import modeldb_core as mdb

    def make(rmse: float, data: str = "file:///data/train.csv", name: str = "train") -> str:
        with mdb.start_run(name, project="pricing", phase="training") as run:
            run.log_input(data)
            run.log_metric("rmse", rmse)
        return run.id
    return make


def run_at_once(script: str, *argv: str, processes: int = 8) -> None:
    """Run ``script`` in ``processes`` Python processes that start their work at the same moment
    (``sys.argv[1]``: the worker's number, then ``argv``); each must exit 0."""
    import subprocess
    import sys
    import time

    start = str(time.time() + 3.0)  # after every interpreter has imported what it needs
    prelude = ("import sys, time\nworker = int(sys.argv[1])\n"
               "time.sleep(max(0.0, float(sys.argv[2]) - time.time()))\nargv = sys.argv[3:]\n")
    procs = [subprocess.Popen([sys.executable, "-c", prelude + script, str(n), start, *argv],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for n in range(processes)]
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err[-3000:]
