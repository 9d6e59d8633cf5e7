"""Secrets never reach the store, the CLI, the UI or a log line: the one rule.

What is replaced by ``***`` (``MASK``):

- the password of a URI's userinfo: ``postgresql://admin:S3cret@db/x`` becomes
  ``postgresql://admin:***@db/x`` (``s3://KEY:SECRET@bucket`` alike);
- the whole value of a param or tag whose key names a secret: one of the words
  ``password``, ``passwd``, ``pwd``, ``secret``, ``token``, ``credential(s)``,
  ``passphrase``, ``authorization``, or the pairs ``api key``, ``access key``,
  ``private key``, ``secret key``, ``session key``, as a word of the key
  (``db_password``, ``AWS_SECRET_ACCESS_KEY``, ``apiKey``, ``github-token``),
  plus the words of the ``secret_keys`` setting. Words are split at ``_ - . :``,
  spaces and camelCase, so ``max_tokens`` or ``tokenizer`` are not secrets, nor
  are a tokenizer's special tokens (``pad_token``, ``eos_token``...);
- in free text (exception messages, tracebacks, notes, tag values, string
  params): a URI password as above, ``<secret key>=value``,
  ``<secret key>: value`` and ``"<secret key>": "value"`` (the value only), and
  ``Bearer <token>``.

Nested params (dicts) are redacted key by key with the same rule.
"""
from __future__ import annotations

import re
import sys
from functools import lru_cache
from typing import Any, Iterable

MASK = "***"
# Values with nothing to redact, whole lists of which are taken as they are.
NUMBERS = frozenset({int, float, bool, type(None)})

_SECRET_WORDS = frozenset({"password", "passwd", "pwd", "secret", "secrets", "token", "credential",
                           "credentials", "passphrase", "authorization", "apikey", "api_key"})
_SECRET_PAIRS = frozenset({("api", "key"), ("access", "key"), ("private", "key"), ("secret", "key"),
                           ("session", "key"), ("auth", "token"), ("client", "secret")})
# Tokenizers call their special symbols tokens; these are not secrets.
_NOT_SECRET_BEFORE_TOKEN = frozenset({"pad", "eos", "bos", "unk", "sep", "cls", "mask", "start", "end",
                                      "special", "max", "num", "n", "min"})

_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
# scheme://user:password@host  — the password may hold anything but '@', '/' and whitespace;
# the last '@' before the host ends it (what URL parsers do).
_URI_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s'\"]*:)(?P<password>[^/\s'\"]*)@")
_BEARER = re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/\-]+=*")
# key=value, key: value, "key": "value", key='value' — only the key and separator are matched here,
# so a value never swallows the next key; is_secret_key decides, then the value is found after it.
_ASSIGNMENT = re.compile(r"""(?P<key>[A-Za-z_][\w.\-]*)['"]?\s*[=:]\s*""")
_QUOTED = re.compile(r"""(['"])(.*?)\1""")
_BARE = re.compile(r"""[^\s,;&'")\]}]+""")


def _words(key: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(key)]


@lru_cache(maxsize=4096)  # keys repeat: a run's params, every run of a sweep
def _is_secret(key: str, extra: tuple[str, ...]) -> bool:
    words = _words(key)
    joined = "_".join(words)
    for i, word in enumerate(words):
        if word in _SECRET_WORDS:
            if word == "token" and i > 0 and words[i - 1] in _NOT_SECRET_BEFORE_TOKEN:
                continue
            return True
        if i + 1 < len(words) and (word, words[i + 1]) in _SECRET_PAIRS:
            return True
    for configured in extra:
        configured_words = "_".join(_words(configured))
        if configured_words and (joined == configured_words or joined.startswith(configured_words + "_")
                                 or joined.endswith("_" + configured_words)
                                 or f"_{configured_words}_" in joined):
            return True
    return False


def _configured_words() -> tuple[str, ...]:
    """The ``secret_keys`` setting of this process (none before a client exists)."""
    client = sys.modules.get("modeldb_core.client")  # not imported: no client, no setting
    current = client._client if client is not None else None
    return current.settings.secret_keys if current is not None else ()


def is_secret_key(key: Any, extra: Iterable[str] | None = None) -> bool:
    """True when ``key`` names a secret (see the module docstring)."""
    if not isinstance(key, str) or not key:
        return False
    return _is_secret(key, tuple(extra) if extra is not None else _configured_words())


def redact_uri(text: Any) -> Any:
    """``text`` with the password of every ``scheme://user:password@`` replaced by ``***``."""
    if not isinstance(text, str) or "@" not in text:
        return text
    return _URI_PASSWORD.sub(lambda m: f"{m.group('head')}{MASK}@" if m.group("password") else m.group(0), text)


def redact_text(text: Any) -> Any:
    """Free text (a message, a traceback, a note) with every secret it shows replaced by ``***``."""
    if not isinstance(text, str) or not text:
        return text
    text = redact_uri(text)
    text = _BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    extra = _configured_words()

    if "=" not in text and ":" not in text:
        return text
    pieces, done = [], 0
    for match in _ASSIGNMENT.finditer(text):
        if match.start() < done or not _is_secret(match.group("key"), extra):
            continue
        at = match.end()
        quoted = _QUOTED.match(text, at)
        if quoted:
            start, end = quoted.span(2)
        else:
            bare = _BARE.match(text, at)
            if bare is None:
                continue
            start, end = bare.span()
        if text[start:end] in ("", MASK):
            continue
        pieces += [text[done:start], MASK]
        done = end
    pieces.append(text[done:])
    return "".join(pieces)


def redact_value(key: str | None, value: Any) -> Any:
    """A param or tag value as it may be stored: masked whole under a secret key, else its
    strings redacted as free text and its dict items key by key."""
    if key is not None and is_secret_key(key) and value is not None:
        return MASK
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact_value(k, v) for k, v in value.items()}
    if isinstance(value, list):
        if NUMBERS.issuperset(map(type, value)):  # a list of numbers: nothing to redact
            return list(value)
        return [redact_value(None, v) for v in value]
    return value


def describe_error(error: BaseException, message_limit: int = 10_000,
                   traceback_limit: int = 50_000) -> tuple[str, str, str]:
    """How a run records the exception that ended it: (type, message, traceback), redacted and bounded."""
    import traceback

    error_type = f"{type(error).__module__}.{type(error).__qualname__}".removeprefix("builtins.")
    try:
        message = str(error)
    except Exception:  # noqa: BLE001 - a broken __str__ must not break tracking
        message = f"<{error_type}: str() failed>"
    try:
        trace = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    except Exception:  # noqa: BLE001
        trace = message
    # Redact before cutting, so a cut never leaves half a secret unmatched.
    return error_type, redact_text(message)[:message_limit], redact_text(trace)[-traceback_limit:]
