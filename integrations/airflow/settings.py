"""What the Airflow integration tracks and how long it may wait: the ``[modeldb]`` section.

Read from Airflow's own configuration, so ``airflow.cfg`` or the usual
``AIRFLOW__MODELDB__<KEY>`` environment variables set them:

| key          | default   | meaning                                                        |
| ------------ | --------- | -------------------------------------------------------------- |
| ``track``    | ``all``   | ``all`` DAGs, or only those ``tagged`` with ``tag``             |
| ``tag``      | ``modeldb`` | the DAG tag that opts a DAG in when ``track = tagged``        |
| ``timeout``  | ``3``     | seconds the store may take to answer a read made by a listener hook (the output a mapped task reads); writes never wait |
| ``enabled``  | ``true``  | ``false`` turns the listener off (the views stay)               |

Where the store is (``MODELDB_URI``) and the project (``MODELDB_PROJECT``)
are ModelDB's own settings, shared with every other part.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from modeldb_core.errors import ValidationError

SECTION = "modeldb"
TRACK_CHOICES = ("all", "tagged")


@dataclass(frozen=True)
class TrackingSettings:
    track: str = "all"
    tag: str = "modeldb"
    timeout: float = 3.0
    enabled: bool = True

    def __post_init__(self) -> None:
        if self.track not in TRACK_CHOICES:
            raise ValidationError(f"[{SECTION}] track", self.track, f"must be one of {', '.join(TRACK_CHOICES)}")
        if not self.tag:
            raise ValidationError(f"[{SECTION}] tag", self.tag, "must not be empty")
        if not self.timeout > 0:
            raise ValidationError(f"[{SECTION}] timeout", self.timeout, "must be more than 0 seconds")


def _number(key: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ValidationError(f"[{SECTION}] {key}", raw, "must be a number of seconds") from None


def load() -> TrackingSettings:
    """The settings as Airflow's configuration has them now."""
    from airflow.configuration import conf

    def get(key: str, default: str) -> str:
        return str(conf.get(SECTION, key, fallback=default)).strip()

    return TrackingSettings(
        track=get("track", "all").lower(),
        tag=get("tag", "modeldb"),
        timeout=_number("timeout", get("timeout", "3")),
        enabled=get("enabled", "true").lower() not in ("0", "false", "no", "off"),
    )


def bound_store_calls(settings: TrackingSettings) -> None:
    """Make the store's own timeouts match ours unless the user chose theirs.

    Set before this process opens the store, so the SQLite busy timeout and
    the PostgreSQL connect/statement timeouts never outlast a hook.
    """
    os.environ.setdefault("MODELDB_STORE_TIMEOUT", str(settings.timeout))
