"""A batch's columns as PostgreSQL binary arrays, for the event path's set-wise statements.

psycopg dumps a list parameter element by element in Python, after two passes over it to
guess the element type (and, for integers, its width): on a server ingesting batches
of runs that was a fifth of its CPU. The store knows each column's type, so it encodes
the array itself (one ``struct`` call an element) and hands psycopg the bytes, tagged
with the array type's OID.
"""
from __future__ import annotations

import struct
from typing import Any, Callable, Sequence

from sqlalchemy import BigInteger, Boolean, Float, Integer, String, Text

_NULL = b"\xff\xff\xff\xff"
_LENGTH = struct.Struct(">i").pack


class _Encoding:
    """How the elements of one PostgreSQL type are written: ``element`` turns a value (never
    None) into its length-prefixed bytes; ``coerce`` makes the column's Python type of a value
    of another (an int in a float column, a number in a text one)."""

    def __init__(self, element_oid: int, array_oid: int, element: Callable[[Any], bytes],
                 coerce: Callable[[Any], Any]):
        self.element_oid, self.array_oid, self.element, self.coerce = element_oid, array_oid, element, coerce


def _fixed(code: str, element_oid: int, array_oid: int, coerce: Callable[[Any], Any]) -> _Encoding:
    item = struct.Struct(">i" + code)
    size = item.size - 4
    pack = item.pack
    return _Encoding(element_oid, array_oid, lambda value: pack(size, value), coerce)


def _text(element_oid: int, array_oid: int) -> _Encoding:
    def element(value: Any) -> bytes:
        raw = value.encode()
        return _LENGTH(len(raw)) + raw
    return _Encoding(element_oid, array_oid, element, str)


_FLOAT8 = _fixed("d", 701, 1022, float)
_INT8 = _fixed("q", 20, 1016, int)
_INT4 = _fixed("i", 23, 1007, int)
_BOOL = _fixed("?", 16, 1000, bool)
_TEXT = _text(25, 1009)
_VARCHAR = _text(1043, 1015)


def encoding_of(kind: Any) -> _Encoding:
    """The encoding of a column of SQLAlchemy type ``kind`` (the types of the event path's tables)."""
    for base, encoding in ((Boolean, _BOOL), (BigInteger, _INT8), (Integer, _INT4), (Float, _FLOAT8),
                           (Text, _TEXT), (String, _VARCHAR)):
        if isinstance(kind, base):
            return encoding
    raise TypeError(f"no binary array encoding for a column of type {kind!r}")


class BinaryArray:
    """A one-dimensional array parameter, already in PostgreSQL's binary format."""

    __slots__ = ("oid", "data")

    def __init__(self, encoding: _Encoding, values: Sequence[Any]):
        element = encoding.element
        try:
            items = [_NULL if value is None else element(value) for value in values]
        except (struct.error, TypeError, AttributeError, ValueError):
            items = self._coerced(encoding, values)
        has_null = 1 if None in values else 0
        self.oid = encoding.array_oid
        # ndim, has-null flag, element type, then the one dimension's length and lower bound.
        self.data = struct.pack(">iiiii", 1, has_null, encoding.element_oid, len(items), 1) + b"".join(items)

    @staticmethod
    def _coerced(encoding: _Encoding, values: Sequence[Any]) -> list[bytes]:
        """The elements of a column holding a value of another type; one that the column's type
        cannot hold (a number out of range, text that is not Unicode) is refused as the driver
        refuses data (``psycopg.DataError``: the store's one translation of database errors)."""
        items = []
        for value in values:
            try:
                items.append(_NULL if value is None else encoding.element(encoding.coerce(value)))
            except (struct.error, TypeError, AttributeError, ValueError, OverflowError) as exc:
                import psycopg

                raise psycopg.DataError(f"cannot store {value!r} in a column of PostgreSQL type "
                                        f"{encoding.element_oid}: {exc}") from None
        return items


_dumper: Any = None


def register(adapters: Any) -> None:
    """Teach a psycopg connection (its ``adapters``) to pass a ``BinaryArray`` as it is."""
    global _dumper
    if _dumper is None:
        from psycopg.adapt import Dumper
        from psycopg.pq import Format

        class BinaryArrayDumper(Dumper):
            format = Format.BINARY

            def get_key(self, obj: BinaryArray, format: Any) -> Any:
                return (BinaryArray, obj.oid)

            def upgrade(self, obj: BinaryArray, format: Any) -> "BinaryArrayDumper":
                dumper = BinaryArrayDumper(BinaryArray)
                dumper.oid = obj.oid
                return dumper

            def dump(self, obj: BinaryArray) -> bytes:
                return obj.data
        _dumper = BinaryArrayDumper
    adapters.register_dumper(BinaryArray, _dumper)
