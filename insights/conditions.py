"""Filters of the query language as ORM conditions, two-valued on every row.

A condition on a `data` property first checks the property's JSON type, so a string
never equals a number, `true` never equals 1, and `gt` on a number never matches a
string, on PostgreSQL and SQLite alike. Every condition is true or false, never
unknown (SQL NULL), so `not`, `neq` and `not_in` are exact complements and match the
logs where the property is missing.

Semantics, per field:
- `eq`/`neq`/`in`/`not_in`: same JSON type and value; `null` stands for "missing or
  JSON null" (as `is_not_set`).
- `gt`/`gte`/`lt`/`lte`: numbers with numbers, strings with strings (code point order,
  so ISO dates compare as dates).
- `contains`/`not_contains`: a substring of a string property, case-sensitive.
- `is_set`: present and not JSON null; `is_not_set`: the complement.
"""

from collections.abc import Mapping
from decimal import Decimal

from django.db.models import F, FloatField, Func, Q, Value
from django.db.models.functions import StrIndex
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    In,
    LessThan,
    LessThanOrEqual,
)

from insights.expressions import JsonNumber, JsonText, JsonType
from insights.spec import Condition, Field, Group, Scalar

ORDER = {"gt": GreaterThan, "gte": GreaterThanOrEqual, "lt": LessThan, "lte": LessThanOrEqual}
COLUMNS = {"event": "event__name", "distinct_id": "distinct_id"}
NOTHING = Q(pk__in=[])
# Always true, and its negation NOTHING (`~Q()` would be no condition at all).
EVERYTHING = ~NOTHING


class CodePoints(Func):
    """Text compared by code point: PostgreSQL's "C" collation; SQLite's default."""

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f'({sql}) COLLATE "C"', params

    def as_sqlite(self, compiler, connection, **extra):
        return compiler.compile(self.source_expressions[0])


class Number(Func):
    """A number as a query parameter: exact numeric on PostgreSQL, a double on SQLite
    (what JsonNumber compares with on each)."""

    output_field = FloatField()

    def __init__(self, value: int | float) -> None:
        super().__init__()
        self.value = value

    def as_postgresql(self, compiler, connection, **extra):
        return "%s::numeric", [str(Decimal(repr(self.value)))]

    def as_sqlite(self, compiler, connection, **extra):
        return "%s", [float(self.value)]


def filters_q(group: Group, event_ids: Mapping[str, int] | None = None) -> Q:
    """The ORM condition of a query's filters (an empty `and` is no condition). With
    `event_ids` (the tenant's events by name), a condition on `event` compares the
    logs' event ids, with no join to the events."""
    return _node(group, event_ids)


def _node(node: Condition | Group, event_ids: Mapping[str, int] | None) -> Q:
    if isinstance(node, Condition):
        return condition_q(node, event_ids)
    parts = [_node(child, event_ids) for child in node.children]
    if node.op == "not":
        return ~parts[0]
    combined = Q()
    for part in parts:
        combined = (combined & part) if node.op == "and" else (combined | part)
    return combined if parts or node.op == "and" else NOTHING


def condition_q(condition: Condition, event_ids: Mapping[str, int] | None = None) -> Q:
    op, field, value = condition.op, condition.field, condition.value
    negated = op in ("neq", "not_in", "not_contains", "is_not_set")
    positive = {"neq": "eq", "not_in": "in", "not_contains": "contains", "is_not_set": "is_set"}
    op = positive.get(op, op)
    if op == "is_set":
        q = _is_set(field)
    elif op == "eq":
        q = _equals(field, value, event_ids)
    elif op == "in":
        q = _one_of(field, value, event_ids)
    elif op == "contains":
        q = _typed(field, "string") & Q(GreaterThan(StrIndex(_text(field), Value(value)), 0))
    else:
        q = _ordered(field, op, value)
    return ~q if negated else q


def _is_set(field: Field) -> Q:
    if field.name == "event":
        return EVERYTHING
    if field.name == "distinct_id":
        return ~Q(distinct_id="")
    return ~Q(In(JsonType(field.keys), ["missing", "null"]))


def _equals(field: Field, value: Scalar, event_ids: Mapping[str, int] | None = None) -> Q:
    if value is None:
        return ~_is_set(field)
    if field.name == "event" and event_ids is not None:
        return Q(event_id=event_ids[value]) if value in event_ids else NOTHING
    if not field.is_data:
        return Q(**{COLUMNS[field.name]: value})
    if isinstance(value, bool):
        return _typed(field, "true" if value else "false")
    if isinstance(value, str):
        return _typed(field, "string") & Q(Exact(JsonText(field.keys), value))
    return _typed(field, "number") & Q(Exact(JsonNumber(field.keys), Number(value)))


def _one_of(
    field: Field, values: tuple[Scalar, ...], event_ids: Mapping[str, int] | None = None
) -> Q:
    """`eq` holds for one of `values`: one `IN (…)` per JSON type, never an OR per value
    (SQLite refuses an expression tree 1000 deep; PostgreSQL plans it slowly)."""
    strings = [value for value in values if isinstance(value, str)]
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    # By identity: None, true and false are singletons, and `1 == True` in Python.
    singles = [one for one in (None, True, False) if any(value is one for value in values)]
    parts = [_equals(field, one) for one in singles]
    if strings and not field.is_data:
        parts.append(_column_in(field, strings, event_ids))
    elif strings:
        parts.append(_typed(field, "string") & Q(In(JsonText(field.keys), strings)))
    if numbers:
        numeric = In(JsonNumber(field.keys), [Number(number) for number in numbers])
        parts.append(_typed(field, "number") & Q(numeric))
    combined = parts[0]
    for part in parts[1:]:
        combined |= part
    return combined


def _column_in(field: Field, strings: list[str], event_ids: Mapping[str, int] | None) -> Q:
    if field.name == "event" and event_ids is not None:
        ids = [event_ids[name] for name in strings if name in event_ids]
        return Q(event_id__in=ids) if ids else NOTHING
    return Q(**{f"{COLUMNS[field.name]}__in": strings})


def _ordered(field: Field, op: str, value: str | int | float) -> Q:
    lookup = ORDER[op]
    if isinstance(value, str):
        return _typed(field, "string") & Q(lookup(_text(field), CodePoints(Value(value))))
    return _typed(field, "number") & Q(lookup(JsonNumber(field.keys), Number(value)))


def _typed(field: Field, json_type: str) -> Q:
    """`field` holds a value of `json_type` (always true of the text columns' strings)."""
    if not field.is_data:
        return EVERYTHING if json_type == "string" else NOTHING
    return Q(Exact(JsonType(field.keys), json_type))


def _text(field: Field):
    if field.is_data:
        return JsonText(field.keys)
    return CodePoints(F(COLUMNS[field.name]))
