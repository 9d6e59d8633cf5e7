"""Optional dependencies: one way to import them, and an error that names the extra.

Each integration or feature lives behind an extra of the package
(``pip install 'modeldb[ui]'``); importing its library through ``require``
turns a bare ``ModuleNotFoundError`` into a ``MissingExtraError`` that says
which extra to install. Only the missing module itself is translated: an
ImportError raised *inside* an installed library stays as it is, because it
is a different problem (a broken install) with a different fix.
"""
from __future__ import annotations

import importlib
from types import ModuleType

from .errors import MissingExtraError

# The extra that brings each optional top-level module (pyproject.toml's optional-dependencies).
EXTRAS = {
    "psycopg": "postgres",
    "sklearn": "sklearn",
    "numpy": "sklearn",
    "pandas": "sklearn",
    "scipy": "sklearn",
    "datasketches": "monitoring",
    "fastapi": "ui",
    "jinja2": "ui",
    "uvicorn": "ui",
    "starlette": "ui",
    "jsonschema": "server",
    "luigi": "luigi",
    "prefect": "prefect",
    "airflow": "airflow",
    "openlineage": "openlineage",
}


def require(module: str, extra: str | None = None, purpose: str | None = None) -> ModuleType:
    """Import ``module``; if it (or its top-level package) is not installed, raise
    ``MissingExtraError`` naming ``extra`` (default: the one in ``EXTRAS``)."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        top = module.split(".", 1)[0]
        if exc.name not in (top, module):  # a piece missing inside an installed package
            raise
        raise MissingExtraError(top, extra or EXTRAS.get(top, top), purpose) from None
