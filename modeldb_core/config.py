"""Where settings come from, written once.

Precedence for every setting: explicit argument > environment variable >
config file > default.

| setting        | environment            | config file key | default                         |
| -------------- | ---------------------- | --------------- | ------------------------------- |
| store URI      | ``MODELDB_URI``        | ``uri``         | ``sqlite:///~/.modeldb/modeldb.db`` |
| disabled       | ``MODELDB_DISABLED``   | ``disabled``    | false                           |
| artifact store | ``MODELDB_ARTIFACTS``  | ``artifacts``   | ``~/.modeldb/artifacts``        |
| project        | ``MODELDB_PROJECT``    | ``project``     | ``default``                     |
| store timeout  | ``MODELDB_STORE_TIMEOUT`` | ``store_timeout`` | none (SQLite waits 60 s)     |
| journal folder | ``MODELDB_JOURNAL``    | ``journal``     | ``~/.modeldb/journal``          |
| exit timeout   | ``MODELDB_EXIT_TIMEOUT`` | ``exit_timeout`` | 2 s (drain at exit, reads)  |
| exit handoff   | ``MODELDB_EXIT_HANDOFF`` | ``exit_handoff`` | true (a process that never opened its store hands its journal to a background writer at exit) |
| journal cap    | ``MODELDB_JOURNAL_MAX_BYTES`` | ``journal_max_bytes`` | 1 GiB of unwritten events |
| outage cap     | ``MODELDB_JOURNAL_MAX_AGE`` | ``journal_max_age`` | 7 days (seconds)          |
| fingerprint time budget | ``MODELDB_FINGERPRINT_SECONDS`` | ``fingerprint_seconds`` | 5 (seconds per tracked call) |
| fingerprint byte budget | ``MODELDB_FINGERPRINT_BYTES`` | ``fingerprint_bytes`` | 1073741824 (1 GiB per tracked call) |
| input snapshots | ``MODELDB_SNAPSHOT_MAX_BYTES`` | ``snapshot_max_bytes`` | 0 (off; inputs up to this size are copied into the artifact store) |
| untracked source cap | ``MODELDB_UNTRACKED_SOURCE_MAX_BYTES`` | ``untracked_source_max_bytes`` | 1048576 (1 MiB: a source file git does not track that a tracked function is defined in or imports is kept with the diff up to this size; 0: none) |
| fit data cap   | ``MODELDB_FIT_DATA_MAX_BYTES`` | ``fit_data_max_bytes`` | 16777216 (16 MiB: a scikit-learn fit's training data is kept for ``modeldb reproduce`` up to this size; 0: never) |
| more secret key words | ``MODELDB_SECRET_KEYS`` | ``secret_keys`` | none (comma-separated; added to the built-in list) |
| private files  | ``MODELDB_PRIVATE_FILES`` | ``private_files`` | true (store file, ~/.modeldb, artifacts owner-only) |
| read deadline  | ``MODELDB_QUERY_TIMEOUT`` | ``query_timeout`` | none; the web app uses 5 s   |
| UI hosts       | ``MODELDB_UI_ALLOWED_HOSTS`` | ``ui_allowed_hosts`` | the bind address and localhost |
| UI token       | ``MODELDB_UI_TOKEN``   | ``ui_token``    | none (no authentication)        |
| server token   | ``MODELDB_TOKEN``      | ``token``       | none (what a client sends to ``modeldb server``) |
| OpenLineage out | ``MODELDB_OPENLINEAGE_URL`` | ``openlineage_url`` | none (no OpenLineage events sent) |
| profile rows   | ``MODELDB_PROFILE_ROWS`` | ``profile_rows`` | 100000 (a larger data set is profiled on a seeded sample) |
| profile size   | ``MODELDB_PROFILE_BYTES`` | ``profile_bytes`` | 65536 (the stored profile of one data set at most) |
| drift FDR      | ``MODELDB_DRIFT_FDR``  | ``drift_fdr``   | 0.01 (Benjamini-Hochberg level across a batch's features) |
| degraded after | ``MODELDB_DEGRADED_AFTER`` | ``degraded_after`` | 3 (flagged monitoring batches in a row) |

The config file is ``$MODELDB_CONFIG`` or ``~/.modeldb/config.toml``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ValidationError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

# Where runs go when no project is named (and models registered without a run or project).
DEFAULT_PROJECT = "default"


def home() -> Path:
    return Path(os.path.expanduser("~")) / ".modeldb"


def config_file_path() -> Path:
    env = os.environ.get("MODELDB_CONFIG")
    return Path(env).expanduser() if env else home() / "config.toml"


def _read_config_file() -> dict[str, Any]:
    path = config_file_path()
    if not path.is_file():
        return {}
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    with path.open("rb") as fh:
        try:
            data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ValidationError("config file", str(path), f"is not valid TOML: {exc}") from None
    # Accept both a flat file and a [modeldb] table.
    return data.get("modeldb", data)


def _setting(name: str, argument: Any, env_var: str, default: Any) -> Any:
    if argument is not None:
        return argument
    if env_var in os.environ:
        return os.environ[env_var]
    file_value = _read_config_file().get(name)
    if file_value is not None:
        return file_value
    return default


def _as_bool(field: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValidationError(field, value, "must be one of 1/0, true/false, yes/no, on/off")


def normalize_uri(uri: str) -> str:
    """Turn what a user typed into a SQLAlchemy URL.

    A plain path means a SQLite file; ``postgresql://`` and ``postgres://``
    mean psycopg 3. A server URL is parsed with ``urllib.parse``: a password
    holding ``@``, ``/``, ``?`` or ``#`` must be percent-encoded, and the error
    saying so never shows it.
    """
    uri = str(uri).strip()
    if not uri:
        raise ValidationError("store uri", uri, "must not be empty")
    if "://" not in uri:
        return "sqlite:///" + str(Path(uri).expanduser().resolve())
    scheme, rest = uri.split("://", 1)
    if scheme != "sqlite" and not scheme.startswith("sqlite+"):
        _check_server_url(uri)
    if scheme in ("postgres", "postgresql"):
        return "postgresql+psycopg://" + rest
    if scheme == "sqlite" and rest.startswith("/~"):
        return "sqlite:///" + str(Path(rest[1:]).expanduser())
    return uri


_ENCODE_HINT = ("percent-encode the password: urllib.parse.quote(password, safe='') "
                "(e.g. '@' is %40, '/' is %2F, '#' is %23, '?' is %3F)")


def _check_server_url(uri: str) -> None:
    from urllib.parse import urlsplit

    from .redaction import redact_uri

    scheme, rest = uri.split("://", 1)
    authority = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    userinfo, _, hostport = authority.rpartition("@")
    shown = f"{scheme}://{userinfo.split(':', 1)[0]}:***@{hostport}/..." if ":" in userinfo \
        else redact_uri(uri)
    if "@" in userinfo:
        raise ValidationError("store uri", shown, f"the user or password holds an unencoded '@'; {_ENCODE_HINT}")
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError:
        # "user:pa/ss@host": the '/' ended the authority early and the rest looks like a bad port.
        shown = f"{scheme}://***" if "@" in rest else uri
        raise ValidationError("store uri", shown, f"is not a valid URL (host or port); if the password "
                              f"holds '/', '?' or '#', {_ENCODE_HINT}") from None
    if not authority and "@" in rest:
        raise ValidationError("store uri", f"{scheme}://***", f"is not a valid URL; {_ENCODE_HINT}")


def _as_seconds(field: str, value: Any) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ValidationError(field, value, "must be a number of seconds") from None
    if not seconds > 0:
        raise ValidationError(field, value, "must be more than 0 seconds")
    return seconds


@dataclass(frozen=True)
class Settings:
    uri: str
    disabled: bool
    artifacts: Path
    project: str
    # How long one store call may wait (seconds); None keeps the drivers' defaults.
    store_timeout: float | None = None
    # The tracking runtime (runtime.py): where the journal lives, how long the process
    # exit (and a read) waits for the writer, and when an outage stops keeping metrics.
    journal: Path = Path("~/.modeldb/journal")
    exit_timeout: float = 2.0
    # A process whose writer has not opened the store by the time it exits hands its synced
    # journal to a detached ``python -m modeldb_core.handoff`` instead of waiting for the
    # store to open (SQLAlchemy's import alone costs more than a short script): see handoff.py.
    exit_handoff: bool = True
    journal_max_bytes: int = 1024 ** 3
    journal_max_age: float = 7 * 24 * 3600.0
    # -- input side (fingerprint budget, redaction, file modes): see docs/security.md --
    fingerprint_seconds: float = 5.0
    fingerprint_bytes: int = 1 << 30
    snapshot_max_bytes: int = 0
    untracked_source_max_bytes: int = 1024 * 1024
    fit_data_max_bytes: int = 16 * 1024 * 1024
    secret_keys: tuple[str, ...] = ()
    private_files: bool = True

    # -- reading and serving (docs/security.md) --
    # How long one read may run (seconds); None: unbounded, except in the web app (5 s).
    query_timeout: float | None = None
    # Host headers `modeldb ui` answers; empty: the address it binds to and localhost.
    ui_allowed_hosts: tuple[str, ...] = ()
    # The token `modeldb ui` asks for (Bearer, or the password of basic auth); None: no auth.
    ui_token: str | None = field(default=None, repr=False)
    # -- a remote store (docs/server.md) --
    # The bearer token sent to a `modeldb server` store URI (http(s)://).
    token: str | None = field(default=None, repr=False)
    # Where ModelDB's runs are also sent as OpenLineage RunEvents (POSTed JSON); None: nowhere.
    openlineage_url: str | None = None
    # Who changes the registry, as the audit log names them; None: the OS user.
    identity: str | None = None
    # -- data profiles and drift (docs/monitoring.md) --
    profile_rows: int = 100_000
    profile_bytes: int = 65536
    drift_fdr: float = 0.01
    degraded_after: int = 3

    def __repr__(self) -> str:
        # The dataclass repr would print the store URI's password and the UI token.
        from .redaction import redact_uri

        def shown(name: str, value: object) -> str:
            if name == "uri":
                return repr(redact_uri(value))
            if name in ("ui_token", "token"):
                return "'***'" if value else "None"
            return repr(value)

        return "Settings(" + ", ".join(f"{n}={shown(n, v)}" for n, v in self.__dict__.items()) + ")"


def resolve(
    uri: str | None = None,
    disabled: bool | None = None,
    artifacts: str | os.PathLike | None = None,
    project: str | None = None,
    store_timeout: float | None = None,
    journal: str | os.PathLike | None = None,
    exit_timeout: float | None = None,
    exit_handoff: bool | None = None,
    journal_max_bytes: int | None = None,
    journal_max_age: float | None = None,
    fingerprint_seconds: float | None = None,
    fingerprint_bytes: int | None = None,
    secret_keys: str | list[str] | tuple[str, ...] | None = None,
    private_files: bool | None = None,
    query_timeout: float | None = None,
    ui_allowed_hosts: str | list[str] | tuple[str, ...] | None = None,
    ui_token: str | None = None,
    token: str | None = None,
    openlineage_url: str | None = None,
    identity: str | None = None,
    profile_rows: int | None = None,
    profile_bytes: int | None = None,
    drift_fdr: float | None = None,
    degraded_after: int | None = None,
    snapshot_max_bytes: int | None = None,
    untracked_source_max_bytes: int | None = None,
    fit_data_max_bytes: int | None = None,
) -> Settings:
    """Resolve every setting with the one precedence rule."""
    default_uri = "sqlite:///" + str(home() / "modeldb.db")
    return Settings(
        uri=normalize_uri(_setting("uri", uri, "MODELDB_URI", default_uri)),
        disabled=_as_bool("MODELDB_DISABLED", _setting("disabled", disabled, "MODELDB_DISABLED", False)),
        artifacts=Path(_setting("artifacts", artifacts, "MODELDB_ARTIFACTS", home() / "artifacts")).expanduser(),
        project=str(_setting("project", project, "MODELDB_PROJECT", DEFAULT_PROJECT)),
        store_timeout=_as_seconds("MODELDB_STORE_TIMEOUT",
                                  _setting("store_timeout", store_timeout, "MODELDB_STORE_TIMEOUT", None)),
        journal=Path(_setting("journal", journal, "MODELDB_JOURNAL", home() / "journal")).expanduser(),
        exit_timeout=_as_seconds("MODELDB_EXIT_TIMEOUT",
                                 _setting("exit_timeout", exit_timeout, "MODELDB_EXIT_TIMEOUT", 2.0)),
        exit_handoff=_as_bool("MODELDB_EXIT_HANDOFF",
                              _setting("exit_handoff", exit_handoff, "MODELDB_EXIT_HANDOFF", True)),
        journal_max_bytes=int(_as_seconds("MODELDB_JOURNAL_MAX_BYTES", _setting(
            "journal_max_bytes", journal_max_bytes, "MODELDB_JOURNAL_MAX_BYTES", 1024 ** 3))),
        journal_max_age=_as_seconds("MODELDB_JOURNAL_MAX_AGE", _setting(
            "journal_max_age", journal_max_age, "MODELDB_JOURNAL_MAX_AGE", 7 * 24 * 3600.0)),
        query_timeout=_as_seconds("MODELDB_QUERY_TIMEOUT",
                                  _setting("query_timeout", query_timeout, "MODELDB_QUERY_TIMEOUT", None)),
        ui_allowed_hosts=_as_hosts(_setting("ui_allowed_hosts", ui_allowed_hosts,
                                            "MODELDB_UI_ALLOWED_HOSTS", ())),
        ui_token=_as_token(_setting("ui_token", ui_token, "MODELDB_UI_TOKEN", None)),
        token=_setting("token", token, "MODELDB_TOKEN", None) or None,
        openlineage_url=_as_http_url("MODELDB_OPENLINEAGE_URL", _setting(
            "openlineage_url", openlineage_url, "MODELDB_OPENLINEAGE_URL", None)),
        identity=_setting("identity", identity, "MODELDB_IDENTITY", None) or None,
        snapshot_max_bytes=_whole_bytes("MODELDB_SNAPSHOT_MAX_BYTES", _setting(
            "snapshot_max_bytes", snapshot_max_bytes, "MODELDB_SNAPSHOT_MAX_BYTES", 0)),
        untracked_source_max_bytes=_whole_bytes("MODELDB_UNTRACKED_SOURCE_MAX_BYTES", _setting(
            "untracked_source_max_bytes", untracked_source_max_bytes, "MODELDB_UNTRACKED_SOURCE_MAX_BYTES",
            1024 * 1024)),
        fit_data_max_bytes=_whole_bytes("MODELDB_FIT_DATA_MAX_BYTES", _setting(
            "fit_data_max_bytes", fit_data_max_bytes, "MODELDB_FIT_DATA_MAX_BYTES", 16 * 1024 * 1024)),
        **_input_settings(fingerprint_seconds, fingerprint_bytes, secret_keys, private_files),
        **_monitoring_settings(profile_rows, profile_bytes, drift_fdr, degraded_after),
    )


# -- data profiles and drift (docs/monitoring.md) ------------------------------------------------
def _whole(field: str, value: Any, least: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationError(field, value, "must be a whole number") from None
    if number < least:
        raise ValidationError(field, value, f"must be at least {least}")
    return number


def _monitoring_settings(profile_rows: Any, profile_bytes: Any, drift_fdr: Any,
                         degraded_after: Any) -> dict[str, Any]:
    fdr_raw = _setting("drift_fdr", drift_fdr, "MODELDB_DRIFT_FDR", 0.01)
    try:
        fdr = float(fdr_raw)
    except (TypeError, ValueError):
        raise ValidationError("MODELDB_DRIFT_FDR", fdr_raw, "must be a number between 0 and 0.5") from None
    if not 0 < fdr <= 0.5:
        raise ValidationError("MODELDB_DRIFT_FDR", fdr_raw, "must be more than 0 and at most 0.5")
    return {
        "profile_rows": _whole("MODELDB_PROFILE_ROWS", _setting(
            "profile_rows", profile_rows, "MODELDB_PROFILE_ROWS", 100_000), 1000),
        "profile_bytes": _whole("MODELDB_PROFILE_BYTES", _setting(
            "profile_bytes", profile_bytes, "MODELDB_PROFILE_BYTES", 65536), 4096),
        "drift_fdr": fdr,
        "degraded_after": _whole("MODELDB_DEGRADED_AFTER", _setting(
            "degraded_after", degraded_after, "MODELDB_DEGRADED_AFTER", 3), 1),
    }


# -- input side: fingerprint budget, redaction, file modes (docs/security.md) --------------------
def _input_settings(fingerprint_seconds: Any, fingerprint_bytes: Any, secret_keys: Any,
                    private_files: Any) -> dict[str, Any]:
    seconds = _as_seconds("MODELDB_FINGERPRINT_SECONDS", _setting(
        "fingerprint_seconds", fingerprint_seconds, "MODELDB_FINGERPRINT_SECONDS", 5.0))
    raw_bytes = _setting("fingerprint_bytes", fingerprint_bytes, "MODELDB_FINGERPRINT_BYTES", 1 << 30)
    try:
        budget_bytes = int(raw_bytes)
    except (TypeError, ValueError):
        raise ValidationError("MODELDB_FINGERPRINT_BYTES", raw_bytes, "must be a whole number of bytes") from None
    if budget_bytes < 0:
        raise ValidationError("MODELDB_FINGERPRINT_BYTES", raw_bytes, "must be 0 or more bytes")
    words = _setting("secret_keys", secret_keys, "MODELDB_SECRET_KEYS", ())
    if isinstance(words, str):
        words = words.split(",")
    return {
        "fingerprint_seconds": seconds if seconds is not None else 5.0,
        "fingerprint_bytes": budget_bytes,
        "secret_keys": tuple(w.strip().lower() for w in words if str(w).strip()),
        "private_files": _as_bool("MODELDB_PRIVATE_FILES",
                                  _setting("private_files", private_files, "MODELDB_PRIVATE_FILES", True)),
    }


def _whole_bytes(field: str, value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationError(field, value, "must be a whole number of bytes") from None
    if number < 0:
        raise ValidationError(field, value, "must be 0 or more bytes")
    return number


def _as_hosts(value: Any) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else list(value or ())
    return tuple(str(h).strip().lower() for h in items if str(h).strip())


def _as_token(value: Any) -> str | None:
    if value is None or value == "":
        return None
    token = str(value)
    if len(token) < 16:
        # The token is the only thing between the network and every recorded run.
        raise ValidationError("MODELDB_UI_TOKEN", "***", f"must be at least 16 characters "
                                                        f"(got {len(token)}); e.g. python -c "
                                                        "'import secrets; print(secrets.token_urlsafe())'")
    return token


def _as_http_url(field: str, value: Any) -> str | None:
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip()
    if not text.startswith(("http://", "https://")):
        raise ValidationError(field, text, "must be an http:// or https:// URL")
    return text
