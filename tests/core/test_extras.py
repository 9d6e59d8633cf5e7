"""A missing optional dependency is an error that names the extra to install."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from modeldb_core.errors import MissingExtraError, ModelDBError
from modeldb_core.extras import require


def test_require_names_the_extra():
    with pytest.raises(MissingExtraError) as raised:
        require("modeldb_no_such_module.sub", "ui", "the web UI")
    assert "pip install 'modeldb[ui]'" in str(raised.value) and "the web UI needs" in str(raised.value)
    assert isinstance(raised.value, ModelDBError) and isinstance(raised.value, ImportError)
    assert require("json").dumps([1]) == "[1]"


def _without(module: str, code: str) -> subprocess.CompletedProcess:
    # sys.modules[name] = None is how Python itself marks a module as not importable.
    script = f"import sys; sys.modules[{module!r}] = None\n" + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("module, code, extra", [
    ("fastapi", "from modeldb_core import web; web.create_app('sqlite:///x.db')", "ui"),
    ("uvicorn", "from modeldb_core import web; web.serve(port=1)", "ui"),
    ("sklearn", "from modeldb_core.sklearn import autolog; autolog()", "sklearn"),
    ("pandas", "from modeldb_core.query.records import records_dataframe; records_dataframe([])", "sklearn"),
])
def test_each_optional_import_names_its_extra(module, code, extra):
    done = _without(module, code)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("modeldb_core.errors.MissingExtraError") and f"pip install 'modeldb[{extra}]'" in last


def test_an_import_error_inside_an_installed_library_is_not_disguised():
    done = _without("json.decoder", "from modeldb_core.extras import require; require('json')")
    assert "MissingExtraError" not in done.stderr
