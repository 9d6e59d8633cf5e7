"""One Prefect test server for the whole session, with Prefect's home in a temp dir.

PREFECT_HOME and HOME are set here, at import, before any test module imports
prefect (Prefect reads its home when it is first imported). The harness takes
~13 s to start, so it is entered once per session and every test shares it.
"""
from __future__ import annotations

import os
import shutil
import tempfile

import pytest

_HOME = tempfile.mkdtemp(prefix="modeldb-prefect-")
os.environ["HOME"] = _HOME
os.environ["PREFECT_HOME"] = os.path.join(_HOME, ".prefect")
# Flow runs here are short: keep Prefect's own console output to warnings.
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
# No network here: the test server must not try to send usage telemetry.
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"


@pytest.fixture(scope="session", autouse=True)
def prefect_server():
    import prefect

    assert prefect.__version__.startswith("3.9."), f"prefect {prefect.__version__} installed, 3.9 required"
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
    shutil.rmtree(_HOME, ignore_errors=True)
