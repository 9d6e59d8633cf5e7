"""A batch's columns as PostgreSQL binary arrays, for the event path's set-wise statements.

psycopg dumps a list parameter element by element in Python, after two passes over it to
guess the element type (and, for integers, its width): on a server ingesting batches
of runs that was a fifth of its CPU. The store knows each column's type, so it encodes
the array itself (one ``struct`` call an element) and hands psycopg the bytes, tagged
with the array type's OID.
"""
from __future__ import annotations

import struct
import sys
from array import array
from typing import Any, Callable, Sequence

from sqlalchemy import BigInteger, Boolean, Float, Integer, String, Text

_NULL = b"\xff\xff\xff\xff"
_LENGTH = struct.Struct(">i").pack


class _Encoding:
    """How the elements of one PostgreSQL type are written: ``element`` turns a value (never
    None) into its length-prefixed bytes, ``elements`` a sequence of them (no None) into all
    of theirs at once (one pass in C: a Python call an element was most of the encoding);
    ``coerce`` makes the column's Python type of a value of another (an int in a float
    column, a number in a text one)."""

    def __init__(self, element_oid: int, array_oid: int, element: Callable[[Any], bytes],
                 elements: Callable[[Sequence[Any]], bytes], coerce: Callable[[Any], Any]):
        self.element_oid, self.array_oid, self.coerce = element_oid, array_oid, coerce
        self.element, self.elements = element, elements


def _fixed(code: str, element_oid: int, array_oid: int, coerce: Callable[[Any], Any]) -> _Encoding:
    """Elements of ``code``, a type code of both ``struct`` and ``array`` of the element's width."""
    item = struct.Struct(">i" + code)
    size = item.size - 4
    pack = item.pack
    if array(code).itemsize != size:  # array's widths are the platform's; PostgreSQL's are fixed
        raise RuntimeError(f"array type code {code!r} is not {size} bytes wide on this platform")
    prefix = _LENGTH(size)
    width = 4 + size

    def elements(values: Sequence[Any]) -> bytes:
        # The values packed side by side in C (big-endian), then laid out byte lane by byte
        # lane behind their length prefixes: a dozen slice copies, whatever the batch's size.
        packed = array(code, values)
        if sys.byteorder == "little":
            packed.byteswap()
        raw, count = packed.tobytes(), len(values)
        out = bytearray(count * width)
        for lane in range(4):
            out[lane::width] = prefix[lane:lane + 1] * count
        for lane in range(size):
            out[4 + lane::width] = raw[lane::size]
        return bytes(out)
    return _Encoding(element_oid, array_oid, lambda value: pack(size, value), elements, coerce)


class _Prefixes(dict):
    """The length prefixes of short texts, made once (keys and values repeat batch after batch)."""

    def __missing__(self, length: int) -> bytes:
        prefix = _LENGTH(length)
        if length < 4096:
            self[length] = prefix
        return prefix


_prefix_of = _Prefixes().__getitem__


def _text(element_oid: int, array_oid: int) -> _Encoding:
    def element(value: Any) -> bytes:
        raw = value.encode()
        return _LENGTH(len(raw)) + raw

    def elements(values: Sequence[Any]) -> bytes:
        raws = list(map(str.encode, values))
        parts = [b""] * (2 * len(raws))
        parts[::2] = map(_prefix_of, map(len, raws))
        parts[1::2] = raws
        return b"".join(parts)
    return _Encoding(element_oid, array_oid, element, elements, str)


_FLOAT8 = _fixed("d", 701, 1022, float)
_INT8 = _fixed("q", 20, 1016, int)
_INT4 = _fixed("i", 23, 1007, int)
_BOOL = _fixed("B", 16, 1000, bool)  # one byte, 0 or 1
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
        has_null = 1 if None in values else 0
        try:
            if has_null:
                element = encoding.element
                body = b"".join([_NULL if value is None else element(value) for value in values])
            else:
                body = encoding.elements(values)
        except (struct.error, TypeError, AttributeError, ValueError, OverflowError):
            body = b"".join(self._coerced(encoding, values))
        self.oid = encoding.array_oid
        # ndim, has-null flag, element type, then the one dimension's length and lower bound.
        self.data = struct.pack(">iiiii", 1, has_null, encoding.element_oid, len(values), 1) + body

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
