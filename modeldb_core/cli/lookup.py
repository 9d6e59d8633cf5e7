"""What a user may type to name an artifact: a URI, a plain path, a content hash or any unique prefix of it."""
from __future__ import annotations

import os
import re

_HEX = re.compile(r"^(?:(?:sha256|uri):)?[0-9a-fA-F]{4,}$")


def artifact_versions(store, text: str) -> list:
    """The artifact versions ``text`` names, oldest first; ``NotFoundError`` if none.

    Tried in turn: the exact URI or content hash; a local path (relative to the
    current folder, ``~`` expanded), as the ``file://`` URI tracking recorded; a
    prefix of a content hash, such as the 12 characters the CLI prints (two
    different contents sharing the prefix is an error listing them).
    """
    from modeldb_core import validation
    from modeldb_core.errors import NotFoundError, ValidationError

    text = text.strip()
    versions = store.find_artifact_versions(text)
    if versions:
        return versions
    as_path = None
    if "://" not in text:
        try:
            as_path = validation.uri("artifact", text)
        except ValidationError:
            as_path = None
    if as_path and os.path.exists(as_path[len("file://"):]):
        versions = store.find_artifact_versions(as_path)
        if versions:
            return versions
    if _HEX.match(text):
        from modeldb_core.store.lookup import versions_by_hash_prefix

        found = versions_by_hash_prefix(store, text)
        hashes = sorted({h for _, _, h in found})
        if len(hashes) > 1:
            shown = ", ".join(f"{h.split(':')[-1][:16]} ({uri})" for h in hashes[:5]
                              for uri in [next(u for _, u, x in found if x == h)])
            raise ValidationError("content hash prefix", text,
                                  f"matches {len(hashes)} different contents ({shown}): "
                                  "give more characters")
        if hashes:
            return store.find_artifact_versions(hashes[0])
    if as_path:
        versions = store.find_artifact_versions(as_path)
        if versions:
            return versions
    raise NotFoundError("run or artifact", text)
