"""The one path every tracking side effect goes through.

Tracking never breaks the user's work: an error inside tracking is logged
(once per distinct problem, so a dead store does not flood the log) and the
call returns ``default``. ``KeyboardInterrupt`` and ``SystemExit`` are never
swallowed. Validation errors are the caller's mistake and are raised.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable, TypeVar

from .errors import ValidationError

log = logging.getLogger("modeldb")
T = TypeVar("T")


class _Redacting(logging.Filter):
    """No ``modeldb`` log line shows a secret: message and traceback pass ``redaction.redact_text``."""

    def filter(self, record: logging.LogRecord) -> bool:
        from .redaction import redact_text

        try:
            record.msg, record.args = redact_text(record.getMessage()), None
            if record.exc_info and not record.exc_text:
                record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
        except Exception:  # noqa: BLE001 - a log line is never worth an exception
            pass
        return True


log.addFilter(_Redacting())

_reported: set[str] = set()
_lock = threading.Lock()


def report(what: str, exc: BaseException) -> None:
    """Log a tracking failure once per (what, error type, message)."""
    signature = f"{what}|{type(exc).__name__}|{str(exc)[:200]}"
    with _lock:
        first = signature not in _reported
        _reported.add(signature)
    if first:
        log.warning("ModelDB could not %s: %s: %s (tracking goes on without it)",
                    what, type(exc).__name__, exc, exc_info=log.isEnabledFor(logging.DEBUG))
    else:
        log.debug("ModelDB could not %s again: %s", what, exc)


def safe_call(what: str, fn: Callable[..., T], *args: Any, default: Any = None,
              raise_validation: bool = False, **kwargs: Any) -> T | Any:
    """Call ``fn``; on any ordinary exception log it and return ``default``."""
    try:
        return fn(*args, **kwargs)
    except ValidationError as exc:
        if raise_validation:
            raise
        report(what, exc)
        return default
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # noqa: BLE001 - that is the point of this module
        report(what, exc)
        return default
