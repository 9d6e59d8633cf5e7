"""Deployments: the rules a deployment's fields obey, checked at the boundary.

Where a model version is served (``environment``: ``prod``, ``staging``, ``eu-west``),
how to reach it (``endpoint``), and a canary's share of the traffic. The store
(store/deployments.py) keeps them and their history; these functions say what is
acceptable, naming the field, the limit and the value when it is not.
"""
from __future__ import annotations

import math
import numbers
from typing import Any

from modeldb_core import validation
from modeldb_core.errors import ValidationError

DEPLOYED = "deployed"
DEGRADED = "degraded"  # still serving; monitoring found it wanting (``mark_degraded``)
RETIRED = "retired"
STATES = (DEPLOYED, DEGRADED, RETIRED)
MAX_ENDPOINT = 2000
MAX_REASON = 10_000


def environment(value: Any, field: str = "environment") -> str:
    """An environment's name: a key (NFC, no control characters, at most 250 characters)."""
    return validation.key(field, value.strip() if isinstance(value, str) else value)


def endpoint(value: Any, field: str = "endpoint") -> str | None:
    """How the deployment is reached (a URL, a service name, a batch job...); credentials in a URL are masked."""
    if value is None:
        return None
    from modeldb_core.redaction import redact_uri

    return redact_uri(validation.text(field, value, MAX_ENDPOINT))


def traffic(value: Any, field: str = "traffic") -> float | None:
    """A canary's share of the environment's requests: greater than 0, at most 1 (None: all of it)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValidationError(field, value, "must be a number greater than 0 and at most 1 (a share of the traffic)")
    share = float(value)
    if not math.isfinite(share) or not 0.0 < share <= 1.0:
        raise ValidationError(field, value, "must be greater than 0 and at most 1 (a share of the traffic)")
    return share


def reason(value: Any, field: str = "reason") -> str | None:
    return None if value is None else validation.text(field, value, MAX_REASON)


def restore_reason(value: Any, field: str = "reason") -> str:
    """Why a degraded deployment is put back: required, since it overrides a monitoring rule's verdict."""
    text = reason(value, field)
    if text is None or not text.strip():
        raise ValidationError(field, value, "is needed: say why the degraded deployment serves well after all")
    return text


def state(value: Any, field: str = "state") -> str:
    if value not in STATES:
        raise ValidationError(field, value, f"must be one of {', '.join(STATES)}")
    return value
