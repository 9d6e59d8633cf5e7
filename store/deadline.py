"""A deadline on every read, and cancellation of the reads of someone who went away.

    deadline.install(engine, seconds)      # once per engine: each read statement gets ``seconds``
    with deadline.scope(seconds) as reads: # the reads inside share one deadline...
        ...                                # ...and stop when reads.cancel(reason) is called

SQLite has no server to time a statement out, so each connection gets a
progress handler that SQLite calls every few thousand virtual-machine steps
(including while rows are fetched); it stops the statement once the deadline
has passed or its scope was cancelled. PostgreSQL gets ``SET LOCAL
statement_timeout`` at the start of each read transaction, and psycopg's
cancel request when a scope is cancelled or expires (a scope can span several
statements). Writes (connections with the ``modeldb_write`` execution option)
are never bounded here: the store's own timeout governs them.

A stopped read raises ``QueryTimeoutError`` or ``QueryCancelledError``, never a
driver error. Reads that fetch from the driver's cursor directly (outside
SQLAlchemy's result objects) pass what they catch through ``translate``.
"""
from __future__ import annotations

import contextlib
import contextvars
import threading
import time
import weakref
from typing import Any, Iterator

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from modeldb_core.errors import QueryCancelledError, QueryTimeoutError

# SQLite virtual-machine steps between two looks at the clock (about 0.5 ms of work): each
# look takes the GIL, so looking too often slows every other thread of the web app.
_STEPS = 20_000
_STATE = "modeldb_deadline"
_POSTGRES_CANCELLED = "57014"  # query_canceled: statement_timeout and cancel requests alike

_seconds: "weakref.WeakKeyDictionary[Engine, float | None]" = weakref.WeakKeyDictionary()
_current: contextvars.ContextVar["Scope | None"] = contextvars.ContextVar("modeldb_read_scope",
                                                                          default=None)


class Scope:
    """Reads that share one deadline and can be cancelled together from another thread."""

    def __init__(self, seconds: float | None = None):
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds if seconds else None
        self.cancelled = False
        self.reason = ""
        self._lock = threading.Lock()
        self._postgres: set[Any] = set()

    def cancel(self, reason: str = "the client went away") -> None:
        """Stop the reads running now and refuse the next ones."""
        with self._lock:
            if self.cancelled:
                return
            self.cancelled, self.reason = True, reason
            running = list(self._postgres)
        for dbapi_connection in running:
            # A cancel request opens its own connection to the server: never on the caller's thread.
            threading.Thread(target=_cancel_postgres, args=(dbapi_connection,), daemon=True).start()

    def expire(self) -> None:
        """The deadline passed (called by whoever watches the clock for a multi-statement scope)."""
        self.cancel(f"it ran past the {self.seconds:g} s deadline" if self.seconds else "deadline")

    def error(self) -> Exception:
        if self.reason.startswith("it ran past"):
            return QueryTimeoutError(self.seconds)
        return QueryCancelledError(self.reason)

    def _attach(self, dbapi_connection) -> None:
        with self._lock:
            self._postgres.add(dbapi_connection)

    def _detach(self, dbapi_connection) -> None:
        with self._lock:
            self._postgres.discard(dbapi_connection)


def _cancel_postgres(dbapi_connection) -> None:
    try:
        cancel = getattr(dbapi_connection, "cancel_safe", None) or dbapi_connection.cancel
        cancel()
    except Exception:  # noqa: BLE001 - the connection may be closed already: nothing to stop
        pass


@contextlib.contextmanager
def scope(seconds: float | None = None) -> Iterator[Scope]:
    """Reads made inside (on this thread, or in threads that copy its context) share a deadline."""
    reads = Scope(seconds)
    token = _current.set(reads)
    try:
        yield reads
    finally:
        _current.reset(token)


def current() -> Scope | None:
    return _current.get()


class _State:
    """What the progress handler and the error translation know about one DBAPI connection."""

    __slots__ = ("deadline", "seconds", "scope", "expired", "handler", "transaction_bounded",
                 "__weakref__")

    def __init__(self) -> None:
        self.deadline: float | None = None
        self.seconds: float | None = None
        self.scope: Scope | None = None
        self.expired = False
        self.handler = False
        self.transaction_bounded = False


def _state(info: dict) -> _State:
    found = info.get(_STATE)
    if found is None:
        found = info[_STATE] = _State()
    return found


def install(engine: Engine, seconds: float | None) -> Engine:
    """Bound every read on ``engine`` to ``seconds`` (None: only scopes bound them).

    Idempotent: installing again changes the number of seconds.
    """
    if engine in _seconds:
        _seconds[engine] = seconds
        return engine
    _seconds[engine] = seconds
    event.listen(engine, "before_cursor_execute", _before_execute)
    event.listen(engine, "handle_error", _on_error)
    event.listen(engine, "commit", _transaction_ended)
    event.listen(engine, "rollback", _transaction_ended)
    event.listen(engine.pool, "checkin", _checked_in)
    return engine


def bounds(engine: Engine) -> bool:
    """Whether a read on ``engine`` now would get a deadline (``install``-ed seconds, or a scope)."""
    return _seconds.get(engine) is not None or _current.get() is not None


def _before_execute(conn: Connection, cursor, statement, parameters, context, executemany) -> None:
    state = _state(conn.info)
    dbapi_connection = conn.connection.dbapi_connection
    if conn.get_execution_options().get("modeldb_write"):
        state.deadline, state.scope, state.seconds = None, None, None
        return
    reads = _current.get()
    if reads is not None and reads.cancelled:
        raise reads.error()
    seconds = _seconds.get(conn.engine)
    now = time.monotonic()
    deadline = now + seconds if seconds else None
    if reads is not None and reads.deadline is not None and (deadline is None or reads.deadline < deadline):
        deadline, seconds = reads.deadline, reads.seconds
    if deadline is not None and now >= deadline:
        raise QueryTimeoutError(seconds)  # the scope's time is up: not one more statement
    state.deadline, state.seconds, state.scope, state.expired = deadline, seconds, reads, False
    name = conn.dialect.name
    if name == "sqlite":
        if not state.handler:
            _install_progress_handler(dbapi_connection, state)
            state.handler = True
    elif name == "postgresql":
        if reads is not None:
            reads._attach(dbapi_connection)
        if deadline is not None and not state.transaction_bounded:
            milliseconds = max(1, int((deadline - now) * 1000))
            # SET LOCAL ends with the transaction: writes later on this connection are not bounded.
            dbapi_connection.execute(f"SET LOCAL statement_timeout = {milliseconds}")
            state.transaction_bounded = True


def _install_progress_handler(dbapi_connection, state: _State) -> None:
    ref = weakref.ref(state)

    def check() -> int:
        current_state = ref()
        if current_state is None:
            return 0
        reads = current_state.scope
        if reads is not None and reads.cancelled:
            return 1
        if current_state.deadline is not None and time.monotonic() > current_state.deadline:
            current_state.expired = True
            return 1
        return 0

    dbapi_connection.set_progress_handler(check, _STEPS)


def _transaction_ended(conn: Connection) -> None:
    state = conn.info.get(_STATE)
    if state is not None:
        state.transaction_bounded = False


def _checked_in(dbapi_connection, record) -> None:
    state = record.info.get(_STATE)
    if state is None:
        return
    state.transaction_bounded = False
    if state.scope is not None:
        # Back in the pool, the connection may serve another request: a late cancel must miss it.
        state.scope._detach(dbapi_connection)
    state.scope, state.deadline = None, None


def translate(exc: BaseException, conn: Connection | None) -> Exception | None:
    """The ModelDB error for a driver error that a deadline or a cancellation caused, else None."""
    if conn is None:
        return None
    try:
        info = conn.info
    except Exception:  # noqa: BLE001 - a closed connection has no info
        return None
    state = info.get(_STATE)
    if state is None:
        return None
    original = getattr(exc, "orig", None) or exc
    if conn.dialect.name == "sqlite":
        stopped = "interrupted" in str(original)
    else:
        stopped = getattr(original, "sqlstate", None) == _POSTGRES_CANCELLED
    if not stopped:
        return None
    reads = state.scope
    if reads is not None and reads.cancelled:
        return reads.error()
    return QueryTimeoutError(state.seconds)


def _on_error(context) -> Exception | None:
    return translate(context.original_exception, context.connection)


__all__ = ["Scope", "bounds", "current", "install", "scope", "translate"]
