"""The one error hierarchy of ModelDB.

Every error a user can see is a ``ModelDBError``. Database driver errors never
leak out of the store: ``modeldb_core.store`` translates them in one place.
"""
from __future__ import annotations

from typing import Any


class ModelDBError(Exception):
    """Base of every error raised by ModelDB."""


class ValidationError(ModelDBError, ValueError):
    """Bad input, rejected before anything is written.

    ``field`` names what was wrong, ``value`` is what was given (shortened for
    display) and ``problem`` says why it was refused.
    """

    def __init__(self, field: str, value: Any, problem: str):
        self.field = field
        self.value = value
        self.problem = problem
        shown = _shown(field, value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(f"{field}: {problem} (got {shown})")


def _shown(field: str, value: Any) -> str:
    """The refused value as an error may show it: never a secret (``redaction``)."""
    from .redaction import MASK, is_secret_key, redact_text

    if value is not None and is_secret_key(field.rsplit(".", 1)[-1]):
        return MASK
    try:
        shown = repr(value[:200] if isinstance(value, str) else value)
    except Exception:  # noqa: BLE001 - a broken __repr__ must not hide the error itself
        shown = f"<{type(value).__name__}>"
    return redact_text(shown)


class AmbiguousModelError(ValidationError):
    """A model named without its project while several projects hold that name; the message
    names them and how to qualify the reference."""

    def __init__(self, ref: str, name: str, projects: list[str]):
        self.projects = projects
        first = projects[0]
        super().__init__("model", ref, f"{len(projects)} projects have a model named {name!r} "
                         f"({', '.join(repr(p) for p in projects)}): qualify it with its project, e.g. "
                         f"models:/{first}/{name} (and /N or @alias after it), or give --project / project=")


class RequestTooLargeError(ValidationError):
    """A request body over the server's limit (HTTP 413), refused before it is read whole."""

    def __init__(self, size: str, limit: int):
        super().__init__("body", size, f"is larger than {limit:,} bytes")


class ParamConflictError(ValidationError):
    """A parameter was logged again with a different value."""

    def __init__(self, key: str, old: Any, new: Any):
        self.old = old
        self.new = new
        super().__init__(
            f"params.{key}", new,
            f"already logged as {old!r} in this run; params are write-once",
        )


class MissingExtraError(ModelDBError, ImportError):
    """An optional dependency is not installed; the message names the extra that brings it."""

    def __init__(self, module: str, extra: str, purpose: str | None = None):
        self.module = module
        self.extra = extra
        needed = f"{purpose} needs" if purpose else "this needs"
        super().__init__(f"{needed} the Python package {module!r}, which is not installed: "
                         f"pip install 'modeldb[{extra}]'", name=module)


class NotFoundError(ModelDBError, LookupError):
    """The run, artifact or project asked for does not exist."""

    def __init__(self, kind: str, ident: Any):
        self.kind = kind
        self.ident = ident
        super().__init__(f"no {kind} with id {ident!r}")


_WINDOW = 60


class QueryError(ModelDBError, ValueError):
    """A filter or sort expression that cannot be parsed or compiled.

    ``position`` is the 0-based offset in ``text`` where the problem was found.
    """

    def __init__(self, message: str, text: str = "", position: int | None = None):
        self.text = text
        self.position = position
        self.message = message
        if position is not None and text:
            # A window around the position: the message stays short whatever the text's length.
            start = max(0, min(position, len(text)) - _WINDOW)
            shown = text[start:position + _WINDOW]
            shown = shown.replace("\n", " ").replace("\r", " ").replace("\t", " ")
            lead = "..." if start else ""
            tail = "..." if position + _WINDOW < len(text) else ""
            pointer = " " * (len(lead) + position - start) + "^"
            super().__init__(f"{message} at position {position}\n  {lead}{shown}{tail}\n  {pointer}")
        else:
            super().__init__(message)


class StoreError(ModelDBError):
    """The metadata store failed (database error, lost connection...)."""


class QueryTimeoutError(StoreError):
    """A read ran past its deadline (the ``query_timeout`` setting) and was stopped."""

    def __init__(self, seconds: float | None):
        self.seconds = seconds
        limit = f"the {seconds:g} s allowed" if seconds else "its deadline"
        super().__init__(f"the query ran longer than {limit} (query_timeout) and was stopped; "
                         "narrow the filter, or raise query_timeout")


class QueryCancelledError(StoreError):
    """A read stopped because whoever asked for it went away (an HTTP client disconnected)."""

    def __init__(self, reason: str = "the client went away"):
        self.reason = reason
        super().__init__(f"the query was cancelled: {reason}")


class StoreUnavailableError(StoreError):
    """The database cannot be reached or opened: worth trying again later.

    ``retry_after``: the seconds the store asked to be left alone for (a ``modeldb server``'s
    ``Retry-After``, over its rate limit or unavailable); None when it did not say. The
    tracking runtime's writer waits that long (bounded) instead of its own backoff."""

    retry_after: float | None = None

    def __init__(self, message: str = "", retry_after: float | None = None):
        if retry_after is not None:
            self.retry_after = retry_after
        super().__init__(message)


class StoreBusyError(StoreUnavailableError):
    """The store is there but other writers hold it (SQLite's write lock, a PostgreSQL
    deadlock or serialization failure): contention, worth trying again soon, not an outage."""


class SchemaError(StoreError):
    """The database schema does not match this version of ModelDB."""


class SchemaTooNewError(SchemaError):
    """The database was written by a newer ModelDB; this code refuses to touch it."""


class SchemaOutdatedError(SchemaError):
    """The database schema is older than this code: run ``modeldb db upgrade``."""


class AuthenticationError(ModelDBError):
    """A request to ``modeldb server`` without a valid token (missing, unknown, revoked,
    expired): HTTP 401. The message never holds the token."""


class AuthorizationError(ModelDBError):
    """A valid token whose scope does not allow what was asked (a read token writing): HTTP 403."""


class RateLimitedError(StoreUnavailableError):
    """A token sent more requests than ``modeldb server --rate-limit`` allows: HTTP 429, with
    ``retry_after`` (seconds) in the Retry-After header. A tracking client's writer waits that
    long, as from a server that is down, and its journal keeps the batch."""

    def __init__(self, who: str, limit: float, retry_after: float):
        super().__init__(f"{who} is over the rate limit of {limit:g} requests per second; "
                         f"retry after {retry_after:.1f} s", retry_after=retry_after)


class PromotionRefusedError(ModelDBError):
    """A promotion failed a rule of the alias's policy; ``verdict`` says which, with its numbers."""

    def __init__(self, ref: str, alias: str, verdict: Any):
        self.ref = ref
        self.alias = alias
        self.verdict = verdict
        super().__init__(f"promotion of {ref} to {alias!r} refused by rule '{verdict.rule}': {verdict.detail} "
                         "(--force with a reason overrides, and is recorded as forced)")


class IntegrityError(ModelDBError):
    """Stored content does not match its recorded hash (a model file changed since it was registered)."""


class ReproductionBlockedError(ModelDBError):
    """A run cannot be reproduced as recorded: ``blockers`` say what is missing and what to do."""

    def __init__(self, run_id: str, blockers: list[Any]):
        self.run_id = run_id
        self.blockers = blockers
        lines = "".join(f"\n  - {b.problem}\n    what to do: {b.fix}" for b in blockers)
        super().__init__(f"run {run_id} cannot be reproduced:{lines}")


class ReproductionError(ModelDBError):
    """Reproducing a run failed on the way (the worktree, the diff, the environment, the re-run)."""
