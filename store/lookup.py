"""Artifact versions by a prefix of their content hash (what ``modeldb lineage 3f2a9c0e41b7`` needs).

A separate module, not yet a ``MetadataStore`` method: it only reads, through
the store's engine, and folds into ``SqlStore`` as
``find_artifact_versions_by_hash_prefix`` without a change for its callers.
"""
from __future__ import annotations

from sqlalchemy import and_, select

from . import schema as t

# Content hashes are written "<method>:<hex>"; a user types the hex digits the CLI shows.
METHODS = ("sha256", "uri")


def versions_by_hash_prefix(store, prefix: str, limit: int = 20) -> list[tuple[int, str, str]]:
    """``(artifact version id, uri, content hash)`` of versions whose hash starts with ``prefix``.

    ``prefix`` is hex digits (``3f2a9c0e41b7``) or a method and hex digits
    (``sha256:3f2a``). Newest first, at most ``limit``.
    """
    prefix = prefix.strip().lower()
    wanted = [prefix] if ":" in prefix else [f"{m}:{prefix}" for m in METHODS]
    av, a = t.artifact_versions, t.artifacts
    found: list[tuple[int, str, str]] = []
    with store.engine.connect() as conn:
        for start in wanted:
            # A range, not LIKE: it walks the content_hash index on SQLite and PostgreSQL alike
            # (SQLite's LIKE ignores that index); startswith() below keeps it exact.
            stop = start[:-1] + chr(ord(start[-1]) + 1)
            query = (select(av.c.id, a.c.uri, av.c.content_hash)
                     .join(a, a.c.id == av.c.artifact_id)
                     .where(and_(av.c.content_hash >= start, av.c.content_hash < stop))
                     .order_by(av.c.id.desc()).limit(limit))
            found += [(r.id, r.uri, r.content_hash) for r in conn.execute(query)
                      if r.content_hash.startswith(start)]
    return sorted(found, key=lambda r: -r[0])[:limit]
