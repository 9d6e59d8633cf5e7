"""The filter and sort language: tokens, a recursive-descent parser, the syntax tree.

    metrics.rmse < 0.9 and params.model = "rf" and (phase = "training" or tags.team in ("a", "b"))

Operators: ``= != < <= > >= like``, ``not like``, ``in (...)``, ``not in (...)``,
``is null``, ``is not null``; ``and``, ``or``, ``not`` and parentheses. Values
are numbers or quoted strings (single or double quotes, backslash escapes),
``true``/``false``. Keywords are case-insensitive.

Parsing never touches a database; everything it returns is data the store
compiles into bound parameters. Every syntax error is a ``QueryError`` that
carries the position and says what was expected there.

Limits (docs/security.md), checked while parsing, before any SQL is built, so
that no filter can exhaust Python's recursion, SQLite's expression depth, its
bound-parameter count or its join planner: ``MAX_FILTER_LENGTH`` characters,
``MAX_DEPTH`` levels of nesting, ``MAX_TERMS`` conditions, ``MAX_VALUES``
values, ``MAX_SORT_KEYS`` sort keys. Each error names the limit it hit.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterator, Union

from modeldb_core.errors import QueryError

from .fields import (
    ATTR, METRIC, NUMBER, PARAM, PREFIXES, TAG, TEXT, TIME, Field, attribute_field,
    known_fields_hint,
)

Value = Union[str, float, int, bool]

MAX_FILTER_LENGTH = 10_000  # characters in a filter
MAX_DEPTH = 32  # nested parentheses and ``not``s
MAX_TERMS = 256  # conditions (comparisons, in, is null) in a filter
MAX_VALUES = 1_000  # values in a filter, ``in (...)`` lists included
MAX_SORT_KEYS = 8  # fields in a sort; each keyed one is one join
MAX_SORT_LENGTH = 1_000  # characters in a sort specification
# Integers outside SQLite's and PostgreSQL's 64-bit range compare as floats (no overflow).
_INT64 = 2**63 - 1

# -- syntax tree -------------------------------------------------------------


@dataclass(frozen=True)
class Compare:
    field: Field
    op: str  # = != < <= > >= like notlike
    value: Value
    position: int = 0


@dataclass(frozen=True)
class In:
    field: Field
    values: tuple[Value, ...]
    negated: bool = False
    position: int = 0


@dataclass(frozen=True)
class IsNull:
    field: Field
    negated: bool = False
    position: int = 0


@dataclass(frozen=True)
class And:
    items: tuple["Node", ...]


@dataclass(frozen=True)
class Or:
    items: tuple["Node", ...]


@dataclass(frozen=True)
class Not:
    item: "Node"


Node = Union[Compare, In, IsNull, And, Or, Not]


@dataclass(frozen=True)
class SortKey:
    field: Field
    descending: bool = False

    def __str__(self) -> str:
        return f"{self.field} {'desc' if self.descending else 'asc'}"


# -- tokens ------------------------------------------------------------------

_OPERATORS = ("<=", ">=", "!=", "<>", "==", "=", "<", ">")
_KEYWORDS = {"and", "or", "not", "like", "in", "is", "null", "true", "false", "asc", "desc"}
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DOTTED = re.compile(r"(?:\.[A-Za-z0-9_]+)*")
_KEY = re.compile(r"[A-Za-z0-9_.\-/:@+]+")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}


@dataclass(frozen=True)
class Token:
    kind: str  # field, word, op, string, number, lparen, rparen, comma, minus, end
    value: object
    position: int
    text: str

    def describe(self) -> str:
        if self.kind == "end":
            return "the end of the input"
        return repr(self.text)


class _Lexer:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def error(self, message: str, position: int) -> QueryError:
        return QueryError(message, self.text, position)

    def tokens(self) -> list[Token]:
        out: list[Token] = []
        text = self.text
        while True:
            while self.pos < len(text) and text[self.pos].isspace():
                self.pos += 1
            if self.pos >= len(text):
                out.append(Token("end", None, self.pos, ""))
                return out
            start = self.pos
            ch = text[start]
            if ch in "\"'`":
                value = self._quoted()
                out.append(Token("string", value, start, text[start:self.pos]))
                continue
            if ch == "(":
                self.pos += 1
                out.append(Token("lparen", ch, start, ch))
                continue
            if ch == ")":
                self.pos += 1
                out.append(Token("rparen", ch, start, ch))
                continue
            if ch == ",":
                self.pos += 1
                out.append(Token("comma", ch, start, ch))
                continue
            op = next((o for o in _OPERATORS if text.startswith(o, start)), None)
            if op:
                self.pos += len(op)
                canonical = {"==": "=", "<>": "!="}.get(op, op)
                out.append(Token("op", canonical, start, op))
                continue
            number = _NUMBER.match(text, start)
            if number and (ch.isdigit() or ch == "." or (ch in "+-" and number.end() > start + 1)):
                self.pos = number.end()
                raw = number.group()
                value: float | int
                if any(c in raw for c in ".eE") or len(raw) > 19:
                    # Python refuses to convert integers of over 4,300 digits; a float holds any.
                    value = float(raw)
                else:
                    value = int(raw)
                    if abs(value) > _INT64:
                        value = float(value)
                out.append(Token("number", value, start, raw))
                continue
            if ch == "-":
                self.pos += 1
                out.append(Token("minus", ch, start, ch))
                continue
            word = _WORD.match(text, start)
            if word:
                self.pos = word.end()
                name = word.group()
                if name.lower() in PREFIXES and self.pos < len(text) and text[self.pos] == ".":
                    out.append(self._keyed(name, start))
                    continue
                dotted = _DOTTED.match(text, self.pos)
                if dotted and dotted.end() > self.pos:
                    # ``foo.bar`` is one (unknown) name, reported as such by the parser.
                    self.pos = dotted.end()
                    name = text[start:self.pos]
                out.append(Token("word", name, start, name))
                continue
            raise self.error(f"unexpected character {ch!r}", start)

    def _keyed(self, prefix: str, start: int) -> Token:
        self.pos += 1  # the dot
        text = self.text
        if self.pos < len(text) and text[self.pos] in "\"'`":
            key = self._quoted()
        else:
            match = _KEY.match(text, self.pos)
            if not match:
                raise self.error(f"expected a key after {prefix!r}. (quote keys with spaces: "
                                 f"{prefix}.\"my key\")", self.pos)
            key = match.group()
            self.pos = match.end()
        if not key:
            raise self.error(f"the key after {prefix!r}. is empty", start)
        return Token("field", Field(PREFIXES[prefix.lower()], key), start, text[start:self.pos])

    def _quoted(self) -> str:
        text = self.text
        quote = text[self.pos]
        start = self.pos
        self.pos += 1
        chars: list[str] = []
        while self.pos < len(text):
            ch = text[self.pos]
            if ch == "\\" and self.pos + 1 < len(text):
                nxt = text[self.pos + 1]
                chars.append(_ESCAPES.get(nxt, nxt))
                self.pos += 2
                continue
            if ch == quote:
                self.pos += 1
                return "".join(chars)
            chars.append(ch)
            self.pos += 1
        raise self.error(f"unterminated string: the {quote} opened here is never closed", start)


# -- parser ------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = _Lexer(text).tokens()
        self.i = 0
        self.depth = 0
        self.terms = 0
        self.values = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        if tok.kind != "end":
            self.i += 1
        return tok

    def error(self, message: str, tok: Token | None = None) -> QueryError:
        tok = tok or self.tok
        return QueryError(message, self.text, tok.position)

    def expected(self, what: str, tok: Token | None = None) -> QueryError:
        tok = tok or self.tok
        return self.error(f"expected {what}, found {tok.describe()}", tok)

    def is_word(self, *words: str) -> bool:
        return self.tok.kind == "word" and str(self.tok.value).lower() in words

    # expr := and_expr ("or" and_expr)*
    def expression(self) -> Node:
        items = [self.conjunction()]
        while self.is_word("or"):
            self.advance()
            items.append(self.conjunction())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def conjunction(self) -> Node:
        items = [self.negation()]
        while self.is_word("and"):
            self.advance()
            items.append(self.negation())
        return items[0] if len(items) == 1 else And(tuple(items))

    def deeper(self) -> None:
        # The only recursion of the parser goes through here: bounded far below Python's limit.
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"the filter nests more than {MAX_DEPTH} levels of parentheses and "
                             f"'not' (the limit, MAX_DEPTH = {MAX_DEPTH})")

    def negation(self) -> Node:
        if self.is_word("not"):
            self.deeper()
            self.advance()
            inner = Not(self.negation())
            self.depth -= 1
            return inner
        if self.tok.kind == "lparen":
            self.deeper()
            opening = self.advance()
            inner = self.expression()
            if self.tok.kind != "rparen":
                raise self.expected(f"')' to close the '(' at position {opening.position}")
            self.advance()
            self.depth -= 1
            return inner
        return self.predicate()

    def field(self) -> Field:
        tok = self.tok
        if tok.kind == "field":
            self.advance()
            return tok.value  # type: ignore[return-value]
        if tok.kind == "word" and str(tok.value).lower() not in _KEYWORDS:
            found = attribute_field(str(tok.value))
            if found is None:
                raise self.error(f"unknown field {tok.text!r}; expected {known_fields_hint()}", tok)
            self.advance()
            return found
        raise self.expected(f"a field ({known_fields_hint()})")

    def predicate(self) -> Node:
        start = self.tok
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise self.error(f"the filter has more than {MAX_TERMS} conditions (the limit, "
                             f"MAX_TERMS = {MAX_TERMS}); use 'in (...)' for many values of one field")
        field = self.field()
        tok = self.tok
        if tok.kind == "op":
            self.advance()
            if self.is_word("null"):
                hint = "is not null" if tok.value == "!=" else "is null"
                raise self.error(f"compare with null using '{hint}', not {tok.text!r}")
            at = self.tok.position
            return self.checked(Compare(field, str(tok.value), self.value(), start.position), [at])
        if self.is_word("is"):
            self.advance()
            negated = False
            if self.is_word("not"):
                self.advance()
                negated = True
            if not self.is_word("null"):
                raise self.expected("'null' after 'is'" if not negated else "'null' after 'is not'")
            self.advance()
            return IsNull(field, negated, start.position)
        negated = False
        if self.is_word("not"):
            self.advance()
            negated = True
            if not self.is_word("like", "in"):
                raise self.expected("'like' or 'in' after 'not'")
        if self.is_word("like"):
            self.advance()
            value_tok = self.tok
            value = self.value()
            if not isinstance(value, str):
                raise self.error("'like' needs a quoted pattern, e.g. \"rf%\"", value_tok)
            return self.checked(Compare(field, "notlike" if negated else "like", value, start.position),
                                [value_tok.position])
        if self.is_word("in"):
            self.advance()
            if self.tok.kind != "lparen":
                raise self.expected("'(' after 'in'")
            self.advance()
            positions = [self.tok.position]
            values = [self.value()]
            while self.tok.kind == "comma":
                self.advance()
                positions.append(self.tok.position)
                values.append(self.value())
            if self.tok.kind != "rparen":
                raise self.expected("',' or ')' in the list of values")
            self.advance()
            return self.checked(In(field, tuple(values), negated, start.position), positions)
        raise self.expected(f"an operator after {start.text!r} (=, !=, <, <=, >, >=, like, in, is null)")

    def value(self) -> Value:
        tok = self.tok
        self.values += 1
        if self.values > MAX_VALUES:
            raise self.error(f"the filter has more than {MAX_VALUES} values (the limit, "
                             f"MAX_VALUES = {MAX_VALUES})")
        if tok.kind in ("string", "number"):
            self.advance()
            return tok.value  # type: ignore[return-value]
        if self.is_word("true", "false"):
            self.advance()
            return str(tok.value).lower() == "true"
        if tok.kind == "word" and str(tok.value).lower() in ("inf", "infinity", "nan"):
            self.advance()
            return float(str(tok.value).lower().replace("infinity", "inf"))
        if tok.kind == "minus" and self.tokens[self.i + 1].kind == "word" and \
                str(self.tokens[self.i + 1].value).lower() in ("inf", "infinity"):
            self.advance()
            self.advance()
            return -math.inf
        if tok.kind == "word" and str(tok.value).lower() not in _KEYWORDS:
            raise self.error(f"expected a value, found the bare word {tok.text!r}; "
                             f"quote text values: \"{tok.text}\"", tok)
        raise self.expected("a value (a number or a quoted string)")

    def checked(self, node: Compare | In, positions: list[int]) -> Compare | In:
        """Reject comparisons that can never mean anything, with a reason (pointing at the value)."""
        values = node.values if isinstance(node, In) else (node.value,)
        f = node.field
        position = node.position
        op = node.op if isinstance(node, Compare) else "in"
        if f.kind == METRIC:
            if op in ("like", "notlike"):
                raise QueryError(f"{f} is a number: 'like' only applies to text", self.text, position)
            for v, at in zip(values, positions):
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    raise QueryError(f"{f} is a number: compare it with a number, not {v!r}",
                                     self.text, at)
        elif f.kind == ATTR:
            attr = f.attribute
            converted = tuple(_attribute_value(attr, v, self.text, at, op)
                              for v, at in zip(values, positions))
            if isinstance(node, In):
                return In(f, converted, node.negated, position)
            return Compare(f, node.op, converted[0], position)
        elif f.kind == TAG:
            # Tags are text: a number written bare means its text.
            converted = tuple(v if isinstance(v, str) else _text_of(v) for v in values)
            if isinstance(node, In):
                return In(f, converted, node.negated, position)
            return Compare(f, node.op, converted[0], position)
        elif f.kind == PARAM and op in ("like", "notlike"):
            pass
        return node

    def parse(self) -> Node:
        node = self.expression()
        if self.tok.kind != "end":
            if self.tok.kind == "rparen":
                raise self.error("unbalanced ')': there is no '(' to close")
            raise self.expected("'and', 'or' or the end of the filter")
        return node

    def sort_keys(self) -> list[SortKey]:
        keys = []
        while True:
            descending = False
            start = self.tok
            if self.tok.kind == "minus":
                self.advance()
                descending = True
            field = self.field()
            if self.is_word("asc", "desc"):
                descending = str(self.advance().value).lower() == "desc"
            keys.append(SortKey(field, descending))
            if len(keys) > MAX_SORT_KEYS:
                raise self.error(f"more than {MAX_SORT_KEYS} sort keys (the limit, "
                                 f"MAX_SORT_KEYS = {MAX_SORT_KEYS})", start)
            if self.tok.kind == "comma":
                self.advance()
                continue
            if self.tok.kind != "end":
                raise self.expected("',' , 'asc', 'desc' or the end of the sort")
            return keys


def _text_of(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def parse_time(text: str) -> float:
    """An ISO date or date-time (UTC unless it says otherwise) as POSIX seconds."""
    raw = text.strip()
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00") if raw.endswith("Z") else raw)
    except ValueError:
        raise ValueError(f"{text!r} is not a date; write 2026-11-01 or 2026-11-01T14:30") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _attribute_value(attr, value: Value, text: str, position: int, op: str) -> Value:
    if attr.type == TIME:
        if isinstance(value, str):
            try:
                return parse_time(value)
            except ValueError as exc:
                raise QueryError(f"{attr.name}: {exc}", text, position) from None
        if isinstance(value, bool):
            raise QueryError(f"{attr.name} is a time: compare it with a date", text, position)
        return value
    if attr.type == NUMBER:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise QueryError(f"{attr.name} is a number: compare it with a number, not {value!r}",
                             text, position)
        return value
    value = value if isinstance(value, str) else _text_of(value)
    if attr.choices and op in ("=", "!=", "in") and value not in attr.choices:
        raise QueryError(f"{attr.name} is one of {', '.join(attr.choices)}; {value!r} is not",
                         text, position)
    return value


def parse_filter(text: str | None) -> Node | None:
    """Parse a filter; ``None`` or blank means "every run"."""
    if text is None or not text.strip():
        return None
    if not isinstance(text, str):
        raise QueryError(f"a filter must be a string, not {type(text).__name__}")
    _check_length("filter", text, MAX_FILTER_LENGTH, "MAX_FILTER_LENGTH")
    return _Parser(text).parse()


def _check_length(what: str, text: str, limit: int, name: str) -> None:
    # Before lexing: the cost of everything after is proportional to the length.
    if len(text) > limit:
        raise QueryError(f"the {what} is {len(text):,} characters long; the limit is {limit:,} "
                         f"({name})", text, limit)


def parse_sort(spec: str | list[str] | tuple[str, ...] | None) -> list[SortKey]:
    """``"metrics.rmse"``, ``"-metrics.rmse"``, ``"metrics.rmse desc, started"`` or a list of those."""
    if spec is None:
        return []
    parts = [spec] if isinstance(spec, str) else list(spec)
    keys: list[SortKey] = []
    for part in parts:
        if not isinstance(part, str):
            raise QueryError(f"a sort key must be a string, not {type(part).__name__}")
        _check_length("sort", part, MAX_SORT_LENGTH, "MAX_SORT_LENGTH")
        if part.strip():
            keys += _Parser(part).sort_keys()
        if len(keys) > MAX_SORT_KEYS:
            raise QueryError(f"more than {MAX_SORT_KEYS} sort keys (the limit, "
                             f"MAX_SORT_KEYS = {MAX_SORT_KEYS})", part, 0)
    return keys


def parse_field(text: str) -> Field:
    """One field name, as in ``--group-by params.model``."""
    if not isinstance(text, str):
        raise QueryError(f"a field name must be a string, not {type(text).__name__}")
    _check_length("field name", text, MAX_SORT_LENGTH, "MAX_SORT_LENGTH")
    parser = _Parser(text)
    field = parser.field()
    if parser.tok.kind != "end":
        raise parser.expected("the end of the field name")
    return field


def fields_of(node: Node | None) -> list[Field]:
    """Every field a filter names, in order of first appearance."""
    seen: dict[Field, None] = {}

    def walk(n):
        if isinstance(n, (And, Or)):
            for item in n.items:
                walk(item)
        elif isinstance(n, Not):
            walk(n.item)
        elif n is not None:
            seen.setdefault(n.field)

    walk(node)
    return list(seen)


def conditions(node: Node | None) -> int:
    """How many comparisons a filter holds (a measure of its cost), walked without recursion."""
    count, stack = 0, [node] if node is not None else []
    while stack:
        n = stack.pop()
        if isinstance(n, (And, Or)):
            stack.extend(n.items)
        elif isinstance(n, Not):
            stack.append(n.item)
        else:
            count += 1
    return count


def conjuncts(node: Node | None) -> Iterator[Node]:
    """The conditions a filter ``and``s together at its top level (nested ``and``s flattened)."""
    if node is None:
        return
    for item in node.items if isinstance(node, And) else (node,):
        if isinstance(item, And):
            yield from conjuncts(item)
        else:
            yield item


def required_fields(node: Node | None) -> set[Field]:
    """Fields a matching run must have a (non-null) value for.

    Comparisons at the top level of the filter (joined by ``and``, nested or
    not) reject a run without the field, so the store can inner-join them and
    skip the "missing values last" part of a sort on them. (Not ``is not null``:
    a NaN metric is there, with no value to sort by.)
    """
    return {item.field for item in conjuncts(node) if isinstance(item, (Compare, In))}


__all__ = ["MAX_DEPTH", "MAX_FILTER_LENGTH", "MAX_SORT_KEYS", "MAX_SORT_LENGTH", "MAX_TERMS",
           "MAX_VALUES", "And", "Compare", "Field", "In", "IsNull", "Node", "Not", "Or", "SortKey", "Token",
           "conditions", "conjuncts", "fields_of", "parse_field", "parse_filter", "parse_sort", "parse_time", "required_fields",
           "ATTR", "METRIC", "PARAM", "TAG", "NUMBER", "TEXT", "TIME"]
