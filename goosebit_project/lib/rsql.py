"""hawkBit's ``q=`` query language (RSQL/FIQL) compiled to a Django ``Q``.

The Management API's list endpoints take filters such as
``q=name==ccu* and (updateStatus==error or attribute.revision=in=(1.1,1.2))``.
``compile_query`` parses one, checks every field against the endpoint's mapping and returns a
``Q``; values only ever reach the database as query parameters.

Semantics follow hawkBit (``RsqlParser`` / ``SpecificationBuilder`` in hawkbit-ql-jpa):

- ``;`` / ``and`` bind tighter than ``,`` / ``or``; parentheses group.
- Field names are matched case-insensitively (hawkBit upper-cases them into an enum); the key
  after ``attribute.`` / ``metadata.`` is kept as written.
- Text ``==``, ``!=``, ``=in=``, ``=out=`` and wildcards ignore case (hawkBit compares
  ``UPPER(column)`` or runs on a case-insensitive collation). ``=lt=`` and friends compare text
  as the database orders it.
- ``*`` in ``==`` / ``!=`` is a wildcard; ``\\*`` is a literal asterisk. ``%`` and ``_`` are
  always literal. In ``=in=`` / ``=out=`` lists ``*`` is literal, as in hawkBit's code.
- ``!=`` and ``=out=`` also match rows where the field is null, a JSON key is missing, or no
  related row has the value ("no tag named x", "no metadata x=y").
- ``==''`` means "null or empty", ``!=''`` "neither"; ``=is=null`` / ``=not=null`` test null.
- ``=li=`` is SQL LIKE as hawkBit's docs list it: ``_`` is one character, ``%`` (or ``*``) any
  run of them (``name=li=_____`` is a five-character name); text fields only, case ignored.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from django.db.models import (
    BooleanField,
    Exists,
    Expression,
    F,
    Func,
    Lookup,
    OuterRef,
    Q,
    TextField,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    IExact,
    In,
    IsNull,
    LessThan,
    LessThanOrEqual,
)

__all__ = ["Field", "RsqlError", "UnknownField", "compile_query"]


class RsqlError(ValueError):
    """A query that cannot be compiled; ``str()`` says what and where, for a 400 response."""

    def __init__(self, message: str, position: int | None = None) -> None:
        self.position = position
        super().__init__(message if position is None else f"{message} (at position {position})")


class UnknownField(RsqlError):
    """A field name the resource does not offer (hawkBit answers it with its own error code)."""


FieldType = Literal["string", "number", "boolean", "timestamp", "enum"]


@dataclass(frozen=True)
class Field:
    """How one query field maps to the ORM.

    ``choices`` (enum): API value, compared case-insensitively -> DB value or a tuple of DB values.
    ``json_key``: ``lookup`` is a JSONField of str -> str; the query names ``<field>.<key>``.
    ``related_key``: ``(key_lookup, value_lookup)`` on a related key/value model; the query names
    ``<field>.<key>`` and ``lookup`` is unused.
    """

    lookup: str
    type: FieldType = "string"
    choices: Mapping[str, Any | tuple[Any, ...]] | None = None
    json_key: bool = False
    related_key: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        # Mistakes in a view's field table, caught when the table is built rather than as a 500.
        if self.json_key and self.related_key is not None:
            raise ValueError("a Field is either json_key or related_key, not both")
        if self.is_map and self.type != "string":
            raise ValueError("map fields (json_key, related_key) hold text: their type must be 'string'")
        if (self.type == "enum") != (self.choices is not None):
            raise ValueError("choices are required for, and only for, type='enum'")

    @property
    def is_map(self) -> bool:
        return self.json_key or self.related_key is not None


# --- parsing -------------------------------------------------------------------------------------

# jirutka's RSQL grammar, which hawkBit uses: these end an unquoted selector or value.
_RESERVED = frozenset("\"'();,=!~<> \t\r\n")
_SYMBOL_OPERATORS = ("==", "!=", "<=", ">=", "<", ">")
_NAMED_OPERATORS = {
    "=lt=": "<",
    "=le=": "<=",
    "=gt=": ">",
    "=ge=": ">=",
    "=in=": "in",
    "=out=": "out",
    "=li=": "li",
    # hawkBit's null-aware spellings of == and != (=is=null, =not=null).
    "=is=": "is",
    "=eq=": "is",
    "=not=": "not",
    "=ne=": "not",
}
_OPERATOR_NAMES = ", ".join([*_SYMBOL_OPERATORS, *_NAMED_OPERATORS])


@dataclass(frozen=True)
class _Value:
    # The text split at unescaped ``*``: ("ccu", "") is ``ccu*``; one part means no wildcard.
    parts: tuple[str, ...]
    quoted: bool

    @property
    def text(self) -> str:
        return "*".join(self.parts)

    @property
    def has_wildcard(self) -> bool:
        return len(self.parts) > 1


@dataclass(frozen=True)
class _Comparison:
    selector: str
    operator: str  # "==", "!=", "<", "<=", ">", ">=", "in", "out", "is", "not", "li"
    values: tuple[_Value, ...]
    position: int


@dataclass(frozen=True)
class _Junction:
    connector: Literal["AND", "OR"]
    children: tuple[_Node, ...]


_Node = _Comparison | _Junction


class _Parser:
    """Recursive descent over the query text; depth and comparison count are bounded."""

    def __init__(self, text: str, *, max_depth: int, max_terms: int) -> None:
        self.text = text
        self.pos = 0
        self.max_depth = max_depth
        self.max_terms = max_terms
        self.terms = 0

    def parse(self) -> _Node:
        self._skip_space()
        if self.pos == len(self.text):
            raise RsqlError("empty query", 0)
        node = self._or(depth=0)
        self._skip_space()
        if self.pos != len(self.text):
            raise RsqlError(f"unexpected {self._describe_here()}", self.pos)
        return node

    def _or(self, depth: int) -> _Node:
        children = [self._and(depth)]
        while self._take_connector(",", "or"):
            children.append(self._and(depth))
        return children[0] if len(children) == 1 else _Junction("OR", tuple(children))

    def _and(self, depth: int) -> _Node:
        children = [self._constraint(depth)]
        while self._take_connector(";", "and"):
            children.append(self._constraint(depth))
        return children[0] if len(children) == 1 else _Junction("AND", tuple(children))

    def _constraint(self, depth: int) -> _Node:
        self._skip_space()
        if self._peek() == "(":
            if depth >= self.max_depth:
                raise RsqlError(f"parentheses nested deeper than {self.max_depth}", self.pos)
            self.pos += 1
            node = self._or(depth + 1)
            self._skip_space()
            if self._peek() != ")":
                raise RsqlError(f"expected ')' but found {self._describe_here()}", self.pos)
            self.pos += 1
            return node
        return self._comparison()

    def _comparison(self) -> _Comparison:
        start = self.pos
        selector = self._unreserved()
        if not selector:
            raise RsqlError(f"expected a field name but found {self._describe_here()}", self.pos)
        self._skip_space()
        operator = self._operator()
        self._skip_space()
        if self._peek() == "(":
            self.pos += 1
            values = [self._value()]
            while True:
                self._skip_space()
                if self._peek() == ",":
                    self.pos += 1
                    values.append(self._value())
                elif self._peek() == ")":
                    self.pos += 1
                    break
                else:
                    raise RsqlError(f"expected ',' or ')' but found {self._describe_here()}", self.pos)
        else:
            values = [self._value()]
        # Each listed value becomes its own SQL term (SQLite caps expression depth at 1000).
        self.terms += len(values)
        if self.terms > self.max_terms:
            raise RsqlError(f"more than {self.max_terms} comparisons or listed values", start)
        return _Comparison(selector, operator, tuple(values), start)

    def _operator(self) -> str:
        start = self.pos
        for symbol in _SYMBOL_OPERATORS:
            if self.text.startswith(symbol, self.pos):
                self.pos += len(symbol)
                return symbol
        match = re.compile(r"=[A-Za-z]*=").match(self.text, self.pos)
        if match and match.group().lower() in _NAMED_OPERATORS:
            self.pos = match.end()
            return _NAMED_OPERATORS[match.group().lower()]
        found = repr(match.group()) if match else self._describe_here()
        raise RsqlError(f"expected an operator ({_OPERATOR_NAMES}) but found {found}", start)

    def _value(self) -> _Value:
        self._skip_space()
        quote = self._peek()
        start = self.pos
        if quote in ("'", '"'):
            self.pos += 1
            parts = self._value_parts(lambda char: char == quote)
            if self.pos >= len(self.text):
                raise RsqlError(f"unterminated {quote}quoted{quote} value", start)
            self.pos += 1  # the closing quote
            return _Value(parts, quoted=True)
        parts = self._value_parts(lambda char: char in _RESERVED)
        if self.pos == start:
            raise RsqlError(f"expected a value but found {self._describe_here()}", self.pos)
        return _Value(parts, quoted=False)

    def _value_parts(self, ends: Callable[[str], bool]) -> tuple[str, ...]:
        """The value's text up to a character that ``ends`` it, split at unescaped ``*``;
        a backslash makes the next character literal."""
        parts: list[str] = []
        current: list[str] = []
        while self.pos < len(self.text) and not ends(self.text[self.pos]):
            char = self.text[self.pos]
            self.pos += 1
            if char == "\\":
                if self.pos >= len(self.text):
                    raise RsqlError("a backslash ends the query", self.pos - 1)
                current.append(self.text[self.pos])
                self.pos += 1
            elif char == "*":
                parts.append("".join(current))
                current = []
            else:
                current.append(char)
        parts.append("".join(current))
        return tuple(parts)

    def _unreserved(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in _RESERVED:
            self.pos += 1
        return self.text[start : self.pos]

    def _take_connector(self, symbol: str, word: str) -> bool:
        """Consume ``;``/``,`` (spaces allowed around) or `` and ``/`` or `` (spaces required)."""
        save = self.pos
        had_space = self._skip_space()
        if self._peek() == symbol:
            self.pos += 1
            return True
        end = self.pos + len(word)
        if (
            had_space
            and self.text[self.pos : end].lower() == word
            and end < len(self.text)
            and self.text[end].isspace()
        ):
            self.pos = end
            return True
        self.pos = save
        return False

    def _skip_space(self) -> bool:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1
        return self.pos > start

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _describe_here(self) -> str:
        if self.pos >= len(self.text):
            return "end of query"
        return repr(self.text[self.pos : self.pos + 10])


# --- compiling -----------------------------------------------------------------------------------


class _UpperLike(Lookup):
    """``UPPER(lhs) LIKE UPPER(pattern) ESCAPE '\\'``: a wildcard match that ignores case alike on
    SQLite and PostgreSQL. The pattern is a parameter, escaped by ``_like_pattern``."""

    lookup_name = "rsql_upper_like"

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"UPPER({lhs}) LIKE UPPER({rhs}) ESCAPE '\\'", (*lhs_params, *rhs_params)


class _AsText(Func):
    """A text field as it is; an IP address field as its address text (PostgreSQL's ``inet``
    has no UPPER or LIKE, and compares with text only through ``HOST()``)."""

    output_field = TextField()

    def as_sql(  # type: ignore[override]  # Func's template arguments are never used here
        self, compiler: Any, connection: Any, **extra_context: Any
    ) -> tuple[str, Any]:
        source = self.get_source_expressions()[0]
        sql, params = compiler.compile(source)
        internal_type = source.output_field.get_internal_type()
        if internal_type in ("GenericIPAddressField", "IPAddressField"):
            return connection.ops.lookup_cast("contains", internal_type) % sql, params
        return sql, params


class _RelatedMatch(Expression):
    """True when the queried model has a row matching ``condition`` through a relation.

    Compiles to ``EXISTS (SELECT … FROM <model> WHERE pk = outer.pk AND condition)``: the
    condition's joins live inside the subquery, so a key and its value are tested on the same
    related row, ``tag==a;tag==b`` means two rows, and negation means "no such row". The model
    is only known once the ``Q`` is applied to a queryset, hence the late resolution.
    """

    conditional = True
    output_field = BooleanField()

    def __init__(self, condition: Q) -> None:
        super().__init__()
        self.condition = condition

    def resolve_expression(
        self,
        query: Any = None,
        allow_joins: bool = True,
        reuse: Any = None,
        summarize: bool = False,
        for_save: bool = False,
    ) -> Any:
        if query is None:
            raise TypeError("an RSQL filter on a relation must be applied to a queryset")
        related = query.model._base_manager.filter(pk=OuterRef("pk")).filter(self.condition)
        return Exists(related).resolve_expression(query, allow_joins, reuse, summarize, for_save)


_ORDERING = {"<": LessThan, "<=": LessThanOrEqual, ">": GreaterThan, ">=": GreaterThanOrEqual}
_INTEGER = re.compile(r"-?[0-9]{1,19}")
_BIGINT_RANGE = range(-(2**63), 2**63)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_UNSTORABLE = re.compile("[\\x00\\ud800-\\udfff]")


def compile_query(
    query: str,
    fields: Mapping[str, Field],
    *,
    max_length: int = 4096,
    max_depth: int = 32,
    max_terms: int = 200,
) -> Q:
    """The ``Q`` for hawkBit query ``query`` over ``fields`` (query name -> ``Field``).

    Raises ``RsqlError`` for anything it cannot compile. Apply the result with ``.filter()``.
    """
    if not isinstance(query, str):
        raise RsqlError("the query must be text")
    if len(query) > max_length:
        raise RsqlError(f"the query is longer than {max_length} characters")
    unstorable = _UNSTORABLE.search(query)
    if unstorable:
        # PostgreSQL refuses NUL in text and no database encodes a lone surrogate.
        raise RsqlError(f"character {unstorable.group()!r} is not allowed", unstorable.start())
    tree = _Parser(query, max_depth=max_depth, max_terms=max_terms).parse()
    return _Compiler(fields).compile(tree)


class _Compiler:
    def __init__(self, fields: Mapping[str, Field]) -> None:
        self.fields = fields
        self.by_name: dict[str, tuple[str, Field]] = {}
        for name, field in fields.items():
            folded = name.casefold()
            if folded in self.by_name:
                raise ValueError(f"RSQL fields {self.by_name[folded][0]!r} and {name!r} differ only in case")
            self.by_name[folded] = (name, field)

    def compile(self, node: _Node) -> Q:
        if isinstance(node, _Comparison):
            return self._comparison(node)
        combined = self.compile(node.children[0])
        for child in node.children[1:]:
            compiled = self.compile(child)
            combined = combined & compiled if node.connector == "AND" else combined | compiled
        return combined

    # Field resolution

    def _resolve(self, comparison: _Comparison) -> tuple[str, Field, str | None]:
        """(query name, field, map key or None) for the comparison's selector."""
        selector = comparison.selector
        exact = self.by_name.get(selector.casefold())
        if exact is not None:
            name, field = exact
            if field.is_map:
                raise RsqlError(f"field {name!r} needs a key: {name}.<key>", comparison.position)
            return name, field, None
        prefix, dot, key = selector.partition(".")
        mapped = self.by_name.get(prefix.casefold()) if dot else None
        if mapped is not None and mapped[1].is_map:
            name, field = mapped
            if not key:
                raise RsqlError(f"field {name!r} needs a key: {name}.<key>", comparison.position)
            if field.json_key and re.fullmatch(r"-?[0-9]+", key):
                # Django reads an all-digit JSON key as an array index, which would never match.
                raise RsqlError(f"{name} keys cannot be all digits: {key!r}", comparison.position)
            return name, field, key
        raise UnknownField(
            f"unknown field {selector!r}; allowed fields: {self._allowed()}", comparison.position
        )

    def _allowed(self) -> str:
        return ", ".join(sorted((f"{n}.<key>" if f.is_map else n) for n, f in self.fields.items()))

    # Comparisons

    def _comparison(self, comparison: _Comparison) -> Q:
        name, field, key = self._resolve(comparison)
        operator, values = comparison.operator, comparison.values
        if operator not in ("in", "out") and len(values) != 1:
            raise RsqlError(f"{name}: only =in= and =out= take a list of values", comparison.position)
        negated = operator in ("!=", "out", "not")
        first = values[0]
        null_test = (operator in ("is", "not") and not first.quoted and first.text == "null") or (
            operator in ("==", "!=", "is", "not") and not first.has_wildcard and first.text == ""
        )
        if operator in ("is", "not") and not null_test:
            operator = "==" if operator == "is" else "!="

        target = _Target(field, key)
        if null_test:
            # hawkBit: ==null is "null", =='' "null or empty"; the negations mean "neither".
            positive = target.null(empty_too=first.text == "" and field.type == "string")
            return ~positive if negated else positive

        condition = self._condition(name, field, operator, values, comparison.position)
        return target.match(condition, negated=negated)

    def _condition(
        self, name: str, field: Field, operator: str, values: tuple[_Value, ...], position: int
    ) -> _Condition:
        if field.type != "string" and any(value.has_wildcard for value in values):
            raise RsqlError(f"{name}: '*' is a wildcard only on text fields", position)
        if operator in _ORDERING:
            if field.type in ("boolean", "enum"):
                raise RsqlError(f"{name}: {field.type} fields cannot be ordered", position)
            return _Condition("order", operator, [self._convert(name, field, values[0], position)])
        if operator == "li":
            if field.type != "string":
                raise RsqlError(f"{name}: =li= applies to text fields only", position)
            return _Condition("like", "", [_sql_like_pattern(values[0].parts)])
        # Elsewhere (=in=, =lt=...) a '*' is a literal character, as in hawkBit.
        if field.type == "string" and operator in ("==", "!=") and values[0].has_wildcard:
            return _Condition("like", "", [_like_pattern(values[0].parts)])
        converted: list[Any] = []
        for value in values:
            item = self._convert(name, field, value, position)
            converted.extend(item if isinstance(item, tuple) else [item])
        if field.type == "string":
            return _Condition("iexact", "", converted)
        return _Condition("in", "", converted)

    def _convert(self, name: str, field: Field, value: _Value, position: int) -> Any:
        text = value.text
        if field.type == "string":
            return text
        if field.type == "number":
            if not _INTEGER.fullmatch(text) or int(text) not in _BIGINT_RANGE:
                raise RsqlError(f"{name}: {text!r} is not a whole number", position)
            return int(text)
        if field.type == "boolean":
            if text.lower() not in ("true", "false"):
                raise RsqlError(f"{name}: {text!r} is not true or false", position)
            return text.lower() == "true"
        if field.type == "timestamp":
            return _timestamp(name, text, position)
        choices = {api.casefold(): db for api, db in (field.choices or {}).items()}
        if text.casefold() not in choices:
            allowed = ", ".join(sorted(field.choices or {}))
            raise RsqlError(f"{name}: {text!r} is not one of {allowed}", position)
        return choices[text.casefold()]


@dataclass(frozen=True)
class _Condition:
    kind: Literal["order", "like", "iexact", "in"]
    operator: str
    values: list[Any]

    def on(self, lhs: Any) -> Q:
        if self.kind == "order":
            return Q(_ORDERING[self.operator](lhs, self.values[0]))
        if self.kind == "like":
            return Q(_UpperLike(lhs, self.values[0]))
        if self.kind == "iexact":
            matches = Q()
            for value in self.values:
                matches |= Q(IExact(lhs, value))
            return matches
        return Q(In(lhs, self.values))


@dataclass(frozen=True)
class _Target:
    """Where a comparison looks: a column of the queried model, a JSON key of one, or a value
    reached through a relation (one row at a time, see ``_RelatedMatch``)."""

    field: Field
    key: str | None

    @property
    def through_relation(self) -> bool:
        return self.field.related_key is not None or "__" in self.field.lookup

    def lhs(self) -> Any:
        if self.field.related_key is not None:
            return F(self.field.related_key[1])
        if self.field.json_key:
            return KeyTextTransform(self.key, self.field.lookup)
        if self.field.type == "string":
            return _AsText(F(self.field.lookup))
        return F(self.field.lookup)

    def row(self, condition: Q) -> Q:
        """``condition`` on one related row; for key/value models the row of this key."""
        if self.field.related_key is not None:
            return Q(Exact(F(self.field.related_key[0]), self.key)) & condition
        return condition

    def match(self, condition: _Condition, *, negated: bool) -> Q:
        if self.through_relation:
            exists = Q(_RelatedMatch(self.row(condition.on(self.lhs()))))
            return ~exists if negated else exists
        positive = condition.on(self.lhs())
        # SQL's NOT leaves null unknown; hawkBit's != and =out= count null (or a missing key).
        return ~positive | Q(IsNull(self.lhs(), True)) if negated else positive

    def null(self, *, empty_too: bool) -> Q:
        if self.through_relation:
            # Null through a relation: no related row (of this key) has a value.
            no_value = ~Q(_RelatedMatch(self.row(Q(IsNull(self.lhs(), False)))))
            if empty_too:
                return no_value | Q(_RelatedMatch(self.row(Q(Exact(self.lhs(), "")))))
            return no_value
        is_null = Q(IsNull(self.lhs(), True))
        return is_null | Q(Exact(self.lhs(), "")) if empty_too else is_null


def _like_pattern(parts: tuple[str, ...]) -> str:
    """LIKE pattern with ``%`` between ``parts``; their own ``\\``, ``%`` and ``_`` escaped."""
    escaped = [part.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") for part in parts]
    return "%".join(escaped)


def _sql_like_pattern(parts: tuple[str, ...]) -> str:
    """=li=: the value is a LIKE pattern already (``_``, ``%``); ``*`` means ``%`` too."""
    return "%".join(part.replace("\\", "\\\\") for part in parts)


def _timestamp(name: str, text: str, position: int) -> dt.datetime:
    """hawkBit's epoch milliseconds, or an ISO-8601 date-time (UTC unless it says otherwise)."""
    if _INTEGER.fullmatch(text):
        try:
            return _EPOCH + dt.timedelta(milliseconds=int(text))
        except OverflowError:
            raise RsqlError(f"{name}: {text} is out of range", position) from None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise RsqlError(
            f"{name}: {text!r} is neither epoch milliseconds nor an ISO-8601 date-time", position
        ) from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    try:
        return moment.astimezone(dt.UTC)  # now, not when the driver adapts it, so out of range is a 400
    except OverflowError:
        raise RsqlError(f"{name}: {text} is out of range", position) from None
