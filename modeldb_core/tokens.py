"""Access tokens of ``modeldb server``: made here, kept hashed by the store, checked in
constant time.

A token reads ``mdb_<id>_<secret>``. The id is public (it names the token in
``modeldb tokens list`` and in logs); the secret is shown once, when the token
is made, and the store keeps only its SHA-256. The secret is 256 random bits,
so a fast hash is enough: nobody can guess what hashes to it.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from .errors import AuthenticationError, AuthorizationError, ValidationError

PREFIX = "mdb_"
SCOPES = ("read", "write", "admin")
# What each scope may do: a write token also reads, an admin token does everything.
_ALLOWED = {"read": {"read"}, "write": {"read", "write"}, "admin": {"read", "write", "admin"}}


@dataclass(frozen=True)
class ApiToken:
    token_id: str
    name: str
    scope: str
    created_at: float
    expires_at: float | None = None
    revoked_at: float | None = None

    def state(self, now: float | None = None) -> str:
        now = time.time() if now is None else now
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


def scope(value: str) -> str:
    if value not in SCOPES:
        raise ValidationError("scope", value, f"must be one of {', '.join(SCOPES)}")
    return value


def new_token(name: str, scope_: str, expires_at: float | None = None) -> tuple[ApiToken, str, str]:
    """A new token: its record, the text to hand to the user (once) and the hash to keep."""
    token = ApiToken(token_id=secrets.token_hex(6), name=name, scope=scope(scope_),
                     created_at=time.time(), expires_at=expires_at)
    secret = secrets.token_urlsafe(32)
    return token, f"{PREFIX}{token.token_id}_{secret}", secret_hash(secret)


def secret_hash(secret: str) -> str:
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()


def split(text: str) -> tuple[str, str]:
    """The id and the secret of a presented token (AuthenticationError if it is not one)."""
    if not text.startswith(PREFIX):
        raise AuthenticationError("the token is not a ModelDB token (mdb_...)")
    token_id, sep, secret = text[len(PREFIX):].partition("_")
    if not sep or not token_id or not secret:
        raise AuthenticationError("the token is not a ModelDB token (mdb_<id>_<secret>)")
    return token_id, secret


def check(found: "tuple[ApiToken, str] | None", secret: str, needed: str,
          now: float | None = None) -> ApiToken:
    """The token if ``secret`` matches the stored hash, it is active and its scope allows
    ``needed``; else AuthenticationError (401) or AuthorizationError (403)."""
    # Compared even for an unknown id, so the answer takes as long either way.
    expected = found[1] if found is not None else secret_hash(secrets.token_hex(16))
    matches = hmac.compare_digest(secret_hash(secret).encode(), expected.encode())
    if found is None or not matches:
        raise AuthenticationError("unknown token")
    token = found[0]
    state = token.state(now)
    if state != "active":
        raise AuthenticationError(f"token {token.token_id} is {state}")
    if needed not in _ALLOWED[token.scope]:
        raise AuthorizationError(f"token {token.token_id} has scope {token.scope!r}, "
                                 f"which does not allow {needed}")
    return token
