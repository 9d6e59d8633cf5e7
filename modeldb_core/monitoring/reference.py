"""Where profiles are kept and how a model version finds its training profile.

A profile is a JSON blob of the content-addressed artifact store (``artifact_store.py``),
named by its SHA-256: the same data profiled twice is stored once, nothing in the store's
schema changes, and a profile travels with the artifacts (a serving host that can load
the model can read its profile; through ``modeldb server`` it is pushed to the server
when stored and pulled from it when read, ``artifact_store.py``). The run that read the
data links it with the tag ``modeldb.profile.<input name>`` = ``sha256:<hex>``, beside
the input's fingerprint.
"""
from __future__ import annotations

import functools
import json
from typing import Any

from .profile import build_profile, dumps

PROFILE_TAG = "modeldb.profile."
# The input names scikit-learn autolog and common training code give the features.
_FEATURE_NAMES = ("X_train", "X", "x", "features", "train", "data", "df", "frame")


def is_profilable(value: Any) -> bool:
    module = type(value).__module__.split(".", 1)[0]
    kind = type(value).__name__
    if module == "pandas":
        return kind in ("DataFrame", "Series")
    return module == "numpy" and kind in ("ndarray", "memmap") and getattr(value, "ndim", 0) in (1, 2)


def store_profile(profile: dict[str, Any], artifacts: Any = None) -> str:
    """Store ``profile`` in the artifact store; its content hash (``TrackingClient.keep_blob``
    has the server keep it too)."""
    from ..artifact_store import ArtifactStore

    store = ArtifactStore(artifacts)
    blob = store.put_bytes(dumps(profile).encode(), {"format": "json", "kind": "profile",
                                                     "what": "data profile", "rows": profile.get("rows")})
    return blob.content_hash


def record_profile(run: Any, name: str, data: Any) -> str | None:
    """Profile ``data`` (an input of ``run`` named ``name``), store it and tag the run with it."""
    if run is None or run.id is None or not is_profilable(data):
        return None
    from ..artifact_store import ArtifactStore

    settings = run.client.settings
    profile = build_profile(data, settings.profile_rows, settings.profile_bytes)
    content_hash = store_profile(profile, settings.artifacts)
    run.client.keep_blob(ArtifactStore(settings.artifacts).root, content_hash)  # for other machines
    run.set_tag(PROFILE_TAG + name, content_hash)
    return content_hash


@functools.lru_cache(maxsize=64)
def _load(content_hash: str, root: str) -> str:
    from ..artifact_store import ArtifactStore

    with ArtifactStore(root).open(content_hash) as fh:
        return fh.read().decode()


def load_profile(content_hash: str, artifacts: Any = None, remote: Any = None) -> dict[str, Any]:
    """The stored profile named ``content_hash`` (read once per process), pulled from ``remote``
    (a MetadataStore) when this machine does not have it."""
    from ..artifact_store import ArtifactStore

    if artifacts is None:
        from ..client import get_client

        artifacts = get_client().settings.artifacts
    if remote is not None:
        ArtifactStore(artifacts, remote=remote).fetch(content_hash)
    return json.loads(_load(content_hash, str(artifacts)))


def profile_tags(tags: dict[str, str]) -> dict[str, str]:
    """``{input name: profile hash}`` of a run's tags."""
    return {key[len(PROFILE_TAG):]: value for key, value in tags.items() if key.startswith(PROFILE_TAG)}


def pick_features(profiles: dict[str, str]) -> tuple[str, str] | None:
    """The profile of the features among a run's profiled inputs: the usual feature names
    first (``X_train``, ``X``...), else the first one that is not a target (``y...``)."""
    for name in _FEATURE_NAMES:
        if name in profiles:
            return name, profiles[name]
    for name, value in sorted(profiles.items()):
        if not name.startswith("y"):
            return name, value
    return None


def training_profile(store: Any, run_id: str) -> tuple[str, str] | None:
    """``(input name, profile hash)`` of the features the run ``run_id`` trained on; a run
    without one (a tracked task wrapping a scikit-learn fit) lends its children's."""
    detail = store.get_run_detail(run_id)
    found = pick_features(profile_tags(detail.tags))
    if found is not None:
        return found
    for child in detail.children[:20]:
        found = pick_features(profile_tags(store.get_run_detail(child).tags))
        if found is not None:
            return found
    if detail.run.parent_run_id:
        return pick_features(profile_tags(store.get_run_detail(detail.run.parent_run_id).tags))
    return None
