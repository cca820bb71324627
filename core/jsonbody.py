"""Strict JSON decoding for request bodies: one parse, never a 500.

orjson is fast but turns integers beyond 64 bits into floats silently, so a body
with a run of 19+ digits is decoded again by the standard library, which keeps
integers exact and lets us refuse them (from UTF-8 text, as orjson reads it, and with
orjson's words for what both refuse). Every string and key is checked for NUL
(PostgreSQL cannot store it), and so is every string for lone UTF-16 surrogates
(the standard library decodes "\\ud800" into one, which no database can store),
and nesting is capped.

What orjson decoded needs less: it refuses lone surrogates and non-finite numbers
itself, and a NUL can only come from a `\\u0000` escape in the body, so a body
without one is checked for its nesting only (a batch of 1000 events: 20 ms less).
"""

import json
import math
from typing import Any

import orjson

MAX_DEPTH = 32
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
INT64_DIGITS = 19  # the fewest digits of an integer outside 64 bits (2**63 has 19)
# A run of 19+ digits, found as 19 zeros once every digit is a zero: ten times faster
# than a regular expression over a 1 MiB body.
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_DIGIT_RUN = b"0" * INT64_DIGITS
_NUL_ESCAPE = b"\\u0000"


class JSONBodyError(ValueError):
    """The body is not acceptable JSON; the message names the problem."""


class ValueRefused(JSONBodyError):
    """Readable JSON holding a value no database here stores (a NUL, a lone surrogate,
    an integer past 64 bits, a number that is not finite): `path` says where (keys and
    list indexes from the top), `decoded` is the body as decoded, the value unchecked
    (set by loads), so that a batch can refuse only the items that hold one."""

    def __init__(self, message: str, path: tuple[str | int, ...] = ()):
        super().__init__(message)
        self.path = path
        self.decoded: Any = None

    @property
    def where(self) -> str:
        """The path as the API's errors name a part: `events[0].data.name`."""
        named = ""
        for step in self.path:
            if isinstance(step, str):  # a key with a lone surrogate, written as its escape
                step = step.encode(errors="backslashreplace").decode()
            named += f"[{step}]" if isinstance(step, int) else f".{step}" if named else step
        return named or "non_field_errors"


def is_integer(value: Any) -> bool:
    """A JSON integer as decoded (3, not 3.0, "3" or true: Python's bool is an int)."""
    return isinstance(value, int) and not isinstance(value, bool)


def loads_body(body: bytes, content_length: str | None) -> Any:
    """Decode a request body as read, or raise JSONBodyError: first, a body shorter than
    its Content-Length header says (the client stopped sending, or the connection was cut:
    the server reads what came and would store a prefix that happens to parse)."""
    if len(body) < _declared_length(content_length):
        raise JSONBodyError(
            f"The body is shorter than its Content-Length ({len(body)} of {content_length} bytes)."
        )
    return loads(body)


def _declared_length(content_length: str | None) -> int:
    """The header's length; 0 when absent or unreadable (refused before the body is read,
    core.middleware.body_size_problem)."""
    try:
        return int(content_length or 0)
    except ValueError:
        return 0


def loads(body: bytes) -> Any:
    """Decode a request body, or raise JSONBodyError with a readable reason."""
    if _LONG_DIGIT_RUN in body.translate(_DIGITS_TO_ZERO):
        value = _loads_exact(body)
    else:
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise JSONBodyError(f"Malformed JSON: {exc}") from None
        if _NUL_ESCAPE not in body:
            _check_depth(value)
            return value
    _check_depth(value)  # a body too deep is refused as a whole, before any value
    try:
        check_value(value)
    except ValueRefused as exc:
        exc.decoded = value
        raise
    return value


def _loads_exact(body: bytes) -> Any:
    def reject_constant(name: str) -> None:
        raise JSONBodyError(f"Malformed JSON: {name} is not valid JSON.")

    try:
        # Strictly UTF-8 without a BOM, as orjson reads it: given bytes, the standard
        # library would guess UTF-16 or UTF-32 and drop a BOM.
        text = body.decode()
        if text.startswith("\ufeff"):
            raise ValueError("UTF-8 byte order mark (BOM) is not supported.")
        return json.loads(text, parse_constant=reject_constant)
    except RecursionError:
        raise JSONBodyError(f"JSON nesting is deeper than {MAX_DEPTH} levels.") from None
    except ValueError as exc:  # UnicodeDecodeError is one
        if isinstance(exc, JSONBodyError):
            raise
        raise JSONBodyError(f"Malformed JSON: {_orjson_refusal(body) or exc}") from None


def _orjson_refusal(body: bytes) -> str | None:
    """What orjson says of a body the standard library refused (so a body is refused in
    the same words with or without a long run of digits), or None if it takes it."""
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return str(exc)
    return None


def _check_depth(value: Any, depth: int = 0) -> None:
    """check_value's nesting limit alone (a scalar counts as a level, as there),
    visiting containers only."""
    if depth > MAX_DEPTH:
        raise JSONBodyError(f"JSON nesting is deeper than {MAX_DEPTH} levels.")
    if isinstance(value, dict):
        value = value.values()
    elif not isinstance(value, list):
        return
    for item in value:
        if isinstance(item, dict | list):
            _check_depth(item, depth + 1)
        elif depth >= MAX_DEPTH:
            raise JSONBodyError(f"JSON nesting is deeper than {MAX_DEPTH} levels.")


def check_value(value: Any, depth: int = 0, path: tuple[str | int, ...] = ()) -> None:
    """Refuse NUL characters, lone surrogates, non-finite numbers, integers outside 64 bits
    (ValueRefused, naming where: below `path`) and nesting deeper than MAX_DEPTH."""
    if depth > MAX_DEPTH:
        raise JSONBodyError(f"JSON nesting is deeper than {MAX_DEPTH} levels.")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_scalar(key, (*path, key))
            check_value(item, depth + 1, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_value(item, depth + 1, (*path, index))
    else:
        _check_scalar(value, path)


def _is_utf8_encodable(value: str) -> bool:
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def _check_scalar(value: Any, path: tuple[str | int, ...]) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueRefused("Strings may not contain NUL (\\u0000) characters.", path)
        if not value.isascii() and not _is_utf8_encodable(value):
            raise ValueRefused("Strings may not contain lone surrogates (\\ud800-\\udfff).", path)
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise ValueRefused("Integers must fit in 64 bits.", path)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueRefused("Numbers must be finite.", path)
