"""The store's side of ``modeldb server``'s access tokens: rows of ``api_tokens``."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from modeldb_core.errors import NotFoundError
from modeldb_core.tokens import ApiToken

from . import schema as t

if TYPE_CHECKING:
    from .sql_store import SqlStore

_COLUMNS = ("token_id", "name", "scope", "created_at", "expires_at", "revoked_at")


def _token(row) -> ApiToken:
    return ApiToken(**{c: row._mapping[c] for c in _COLUMNS})


def add(store: "SqlStore", token: ApiToken, secret_hash: str) -> None:
    def work(conn):
        conn.execute(t.api_tokens.insert().values(
            secret_hash=secret_hash, **{c: getattr(token, c) for c in _COLUMNS}))
    store._write(work)


def listing(store: "SqlStore") -> list[ApiToken]:
    with store._read() as conn:
        rows = conn.execute(select(t.api_tokens).order_by(t.api_tokens.c.id)).all()
    return [_token(r) for r in rows]


def find(store: "SqlStore", token_id: str) -> tuple[ApiToken, str] | None:
    with store._read() as conn:
        row = conn.execute(select(t.api_tokens).where(t.api_tokens.c.token_id == token_id)).first()
    return None if row is None else (_token(row), row.secret_hash)


def revoke(store: "SqlStore", token_id: str) -> ApiToken:
    def work(conn):
        conn.execute(update(t.api_tokens).where(t.api_tokens.c.token_id == token_id,
                                                t.api_tokens.c.revoked_at.is_(None))
                     .values(revoked_at=time.time()))
    store._write(work)
    found = find(store, token_id)
    if found is None:
        raise NotFoundError("token", token_id)
    return found[0]
