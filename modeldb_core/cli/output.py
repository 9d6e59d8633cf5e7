"""The one place listings are written: a readable table, JSON or CSV.

Every listing command builds rows (dicts) and a column list and hands them to
``emit``. JSON and CSV are written row by row as the rows arrive, so a listing
of a million runs never holds them all in memory; the table needs every row to
size its columns, so it is only used for bounded listings.
"""
from __future__ import annotations

import functools
import json
import sys
from typing import Any, Iterable, Sequence

import click

from modeldb_core.presentation import duration, iso, timestamp  # noqa: F401 - the one rule, re-exported
from modeldb_core.presentation import text as cell  # how one value looks in a table or CSV cell
from modeldb_core.presentation import plain as jsonable  # the one rule for NaN/inf in JSON

TABLE, JSON, CSV = "table", "json", "csv"
MAX_CELL = 48


def format_options(fn):
    """``--json`` / ``--csv`` / ``--table`` on a listing command (table is the default).

    Three flags rather than one shared destination: with a shared one, click
    lets the last flag win and ``--json --csv`` would silently print CSV.
    """
    @functools.wraps(fn)
    def with_format(*args, as_json: bool, as_csv: bool, as_table: bool, **kwargs):
        fmt = one_format(as_json=as_json, as_csv=as_csv, as_table=as_table)
        return fn(*args, fmt=fmt, **kwargs)

    with_format = click.option("--table", "as_table", is_flag=True,
                               help="Print a readable table (default).")(with_format)
    with_format = click.option("--csv", "as_csv", is_flag=True, help="Print CSV.")(with_format)
    with_format = click.option("--json", "as_json", is_flag=True,
                               help="Print JSON (snake_case keys, ISO 8601 times).")(with_format)
    return with_format


def one_format(**flags: bool) -> str:
    """The one output format the flags ask for; two at once is a usage error naming both."""
    chosen = ["--" + name.split("_", 1)[1] for name, on in flags.items() if on]
    if len(chosen) > 1:
        raise click.UsageError(f"{' and '.join(chosen)} cannot be used together: choose one output format")
    if not chosen:
        return TABLE
    return {"--json": JSON, "--csv": CSV, "--table": TABLE}[chosen[0]]


def json_default(value: Any) -> Any:
    if hasattr(value, "value") and hasattr(value, "name"):  # enums
        return value.value
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def dumps(value: Any, indent: int | None = None) -> str:
    try:
        return json.dumps(value, default=json_default, ensure_ascii=False, indent=indent,
                          allow_nan=False)
    except ValueError:  # a NaN or an infinity somewhere: the rare, slower path
        return json.dumps(jsonable(value), default=json_default, ensure_ascii=False,
                          indent=indent, allow_nan=False)


# Record fields that hold POSIX times; JSON output writes them with ``iso``.
TIME_FIELDS = frozenset({"started_at", "ended_at", "created_at", "heartbeat_at", "timestamp",
                         "last_activity", "trained_at"})


def iso_times(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` with its time fields as ISO 8601 (one level: params and tags are left alone)."""
    return {k: iso(v) if k in TIME_FIELDS and isinstance(v, (int, float)) and not isinstance(v, bool)
            else v for k, v in record.items()}


def _clip(text: str, width: int = MAX_CELL) -> str:
    text = text.replace("\n", " ")
    if len(text) <= width:
        return text
    # Keep both ends: paths and hashes differ at the end, names at the start.
    head = (width - 1) // 2
    return text[:head] + "…" + text[-(width - 1 - head):]


def emit(rows: Iterable[dict[str, Any]], columns: Sequence[str], fmt: str = TABLE,
         out=None, empty: str = "(nothing to show)") -> int:
    """Write ``rows`` in ``fmt``; returns how many rows were written."""
    out = out or sys.stdout
    if fmt == JSON:
        return _emit_json(rows, out)
    if fmt == CSV:
        return _emit_csv(rows, columns, out)
    return _emit_table(list(rows), columns, out, empty)


def _emit_json(rows: Iterable[dict[str, Any]], out) -> int:
    count = 0
    out.write("[")
    for row in rows:
        out.write(",\n " if count else "\n ")
        out.write(dumps(row))
        count += 1
    out.write("\n]\n" if count else "]\n")
    out.flush()
    return count


def _emit_csv(rows: Iterable[dict[str, Any]], columns: Sequence[str], out) -> int:
    import csv

    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow([cell(row.get(c)) for c in columns])
        count += 1
    out.flush()
    return count


def _emit_table(rows: list[dict[str, Any]], columns: Sequence[str], out, empty: str) -> int:
    if not rows:
        out.write(empty + "\n")
        return 0
    text = [[_clip(cell(row.get(c))) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in text)) for i, c in enumerate(columns)]
    numeric = [all(_looks_numeric(r[i]) for r in text) for i in range(len(columns))]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)]
        return "  ".join(parts).rstrip()

    out.write(line(list(columns)) + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    for r in text:
        out.write(line(r) + "\n")
    out.flush()
    return len(rows)


def _looks_numeric(text: str) -> bool:
    if not text:
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True


def key_values(title: str, values: dict[str, Any], out=None, width: int | None = None) -> None:
    """A titled block of ``key  value`` lines (for ``runs show``).

    ``width`` lines several blocks up on one column; keys longer than it push
    only their own value to the right.
    """
    out = out or sys.stdout
    if not values:
        return
    out.write(f"\n{title}\n")
    if width is None:
        width = min(max(len(str(k)) for k in values), MAX_KEY)
    for k, v in values.items():
        text = v if isinstance(v, str) else cell(v)
        out.write(f"  {str(k).ljust(width)}  {text}\n".rstrip() + "\n")


MAX_KEY = 40
