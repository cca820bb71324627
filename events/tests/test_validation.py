"""Unit tests of `events.validation.validate_event` and `core.jsonbody.loads`."""

import codecs
import datetime as dt
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core import jsonbody
from events.models import event_name_problem
from events.validation import EPOCH, MAX_COUNT, EventInput, validate_event

NOW = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.UTC)
LONG_DIGITS = "12345678901234567890"  # a 19+ digit run forces the exact (stdlib) decoder


def valid(raw) -> EventInput:
    item, errors = validate_event(raw, now=NOW)
    assert errors == {}
    assert item is not None
    return item


def errors_of(raw) -> dict[str, list[str]]:
    item, errors = validate_event(raw, now=NOW)
    assert item is None
    return errors


# --- validate_event -----------------------------------------------------------------


def test_minimal_event_gets_defaults():
    assert valid({"event_name": "click"}) == EventInput(event_name="click")


def test_all_fields_are_parsed():
    item = valid(
        {
            "event_name": "purchase",
            "data": {"amount": 50},
            "timestamp": "2024-06-01T10:00:00+02:00",
            "distinct_id": "user-1",
            "uuid": "0190A4F8-0000-7000-8000-000000000001",
            "count": 3,
        }
    )

    assert item.data == {"amount": 50}
    assert item.timestamp == dt.datetime(2024, 6, 1, 8, 0, tzinfo=dt.UTC)
    assert item.distinct_id == "user-1"
    assert item.uuid == UUID("0190a4f8-0000-7000-8000-000000000001")
    assert item.count == 3


@pytest.mark.parametrize("name", ["timestamp", "distinct_id", "uuid"])
def test_null_optional_field_means_not_given(name):
    assert valid({"event_name": "a", name: None}) == EventInput(event_name="a")


@pytest.mark.parametrize("raw", [[], "event", 5, None, [{"event_name": "a"}]])
def test_non_object_is_a_non_field_error(raw):
    assert errors_of(raw) == {"non_field_errors": ["Each event must be a JSON object."]}


def test_missing_event_name_is_required():
    assert errors_of({"data": {}}) == {"event_name": ["This field is required."]}


def test_unknown_fields_are_each_named():
    errors = errors_of({"event_name": "a", "zeta": 1, "alpha": 2})

    assert errors == {"alpha": ["Unknown field."], "zeta": ["Unknown field."]}


def test_every_bad_field_is_reported_at_once():
    errors = errors_of({"event_name": 1, "data": [], "count": 0, "uuid": "x", "timestamp": "y"})

    assert set(errors) == {"event_name", "data", "count", "uuid", "timestamp"}


@pytest.mark.parametrize(
    "name", ["", "x" * 201, "bell\x07", "new\nline", "del\x7f", "nbsp\x85"], ids=repr
)
def test_event_name_messages_come_from_the_model_rule(name):
    assert errors_of({"event_name": name}) == {"event_name": [event_name_problem(name)]}


def test_event_name_of_200_chars_and_unicode_is_valid():
    assert valid({"event_name": "x" * 200}).event_name == "x" * 200
    assert valid({"event_name": "café ☕"}).event_name == "café ☕"


@pytest.mark.parametrize("name", [5, True, None, ["a"], {"a": 1}])
def test_event_name_must_be_a_string(name):
    assert errors_of({"event_name": name}) == {"event_name": ["Must be a string."]}


def test_data_string_holding_an_object_is_decoded():
    assert valid({"event_name": "a", "data": '{"amount": 50}'}).data == {"amount": 50}


@pytest.mark.parametrize(
    "data", [[], 5, 1.5, True, None, "", "[1]", "null", "{", '{"k": "\\u0000"}', '"{}"']
)
def test_data_that_is_not_an_object_is_refused(data):
    assert set(errors_of({"event_name": "a", "data": data})) == {"data"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-06-01T10:00:00Z", dt.datetime(2024, 6, 1, 10, tzinfo=dt.UTC)),
        ("2024-06-01T10:00:00", dt.datetime(2024, 6, 1, 10, tzinfo=dt.UTC)),
        ("2024-06-01 10:00:00", dt.datetime(2024, 6, 1, 10, tzinfo=dt.UTC)),
        ("2024-06-01T12:00:00+02:00", dt.datetime(2024, 6, 1, 10, tzinfo=dt.UTC)),
        (1717236000, dt.datetime(2024, 6, 1, 10, tzinfo=dt.UTC)),
        (1717236000.25, dt.datetime(2024, 6, 1, 10, 0, 0, 250000, tzinfo=dt.UTC)),
        (0, EPOCH),
        ("1970-01-01T00:00:00Z", EPOCH),
    ],
)
def test_timestamp_forms_are_parsed_as_aware_utc(value, expected):
    parsed = valid({"event_name": "a", "timestamp": value}).timestamp

    assert parsed == expected
    assert parsed.utcoffset() is not None


def test_timestamp_up_to_the_allowed_skew_is_accepted(settings):
    settings.EVENTTRACKER = {"MAX_FUTURE_SKEW_SECONDS": 60}
    limit = NOW + dt.timedelta(seconds=60)

    assert valid({"event_name": "a", "timestamp": limit.isoformat()}).timestamp == limit
    errors = errors_of(
        {"event_name": "a", "timestamp": (limit + dt.timedelta(seconds=1)).isoformat()}
    )
    assert errors == {"timestamp": ["Timestamp is more than 0:01:00 in the future."]}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1969-12-31T23:59:59Z", "Timestamp is before 1970-01-01."),
        (-1, "Timestamp is before 1970-01-01."),
        ("not-a-date", "Must be an ISO 8601 datetime string or Unix seconds."),
        ("2024-02-30T00:00:00", "Must be an ISO 8601 datetime string or Unix seconds."),
        ("2024-01-01T00:00+25:00", "Must be an ISO 8601 datetime string or Unix seconds."),
        (True, "Must be an ISO 8601 datetime string or Unix seconds."),
        # Unix seconds past a datetime's year 9999 (or before year 1): out of range.
        (1e300, "Timestamp is more than 1:00:00 in the future."),
        (253402300800, "Timestamp is more than 1:00:00 in the future."),
        (-1e20, "Timestamp is before 1970-01-01."),
        ({"t": 1}, "Must be an ISO 8601 datetime string or Unix seconds."),
        ("9999-12-31T23:59:59-01:00", "Timestamp is more than 1:00:00 in the future."),
    ],
)
def test_bad_timestamps_are_refused(value, message):
    errors = errors_of({"event_name": "a", "timestamp": value})

    assert errors == {"timestamp": [message]}
    in_range = message.startswith("Timestamp is")
    assert errors.reason == ("timestamp_out_of_range" if in_range else "invalid_field")


@pytest.mark.parametrize("count", [1, 2, MAX_COUNT])
def test_count_in_range_is_accepted(count):
    assert valid({"event_name": "a", "count": count}).count == count


@pytest.mark.parametrize(
    ("count", "message"),
    [
        (0, f"Must be between 1 and {MAX_COUNT}."),
        (-1, f"Must be between 1 and {MAX_COUNT}."),
        (MAX_COUNT + 1, f"Must be between 1 and {MAX_COUNT}."),
        (1.5, "Must be a whole number."),
        (2.0, "Must be a whole number."),
        (True, "Must be a whole number."),
        ("3", "Must be a whole number."),
        (None, "Must be a whole number."),
    ],
)
def test_bad_counts_are_refused(count, message):
    assert errors_of({"event_name": "a", "count": count}) == {"count": [message]}


def test_distinct_id_rules():
    assert valid({"event_name": "a", "distinct_id": 42}).distinct_id == "42"
    assert valid({"event_name": "a", "distinct_id": "d" * 200}).distinct_id == "d" * 200
    assert errors_of({"event_name": "a", "distinct_id": "d" * 201}) == {
        "distinct_id": ["May have at most 200 characters."]
    }
    for bad in [True, 1.5, [], {}]:
        assert errors_of({"event_name": "a", "distinct_id": bad}) == {
            "distinct_id": ["Must be a string."]
        }


@pytest.mark.parametrize("value", ["abc", "", 12, True, [], "0190a4f8-0000-7000-8000-00000000000"])
def test_bad_uuids_are_refused(value):
    assert errors_of({"event_name": "a", "uuid": value}) == {"uuid": ["Must be a UUID string."]}


def test_api_reports_the_validator_messages(api_client):
    raw = {"event_name": "a\x07", "count": 0, "uuid": "abc", "timestamp": -1, "x": 1}

    response = api_client.post("/api/eventlogs/", raw)

    assert response.status_code == 400
    assert response.json() == validate_event(raw, now=NOW)[1]


# --- jsonbody.loads -----------------------------------------------------------------


def test_loads_decodes_plain_json():
    assert jsonbody.loads(b'{"a": [1, 2.5, "x", true, null]}') == {"a": [1, 2.5, "x", True, None]}


@pytest.mark.parametrize(
    "value", [2**63 - 1, -(2**63), 10**18], ids=["int64-max", "int64-min", "18-digits"]
)
def test_loads_keeps_int64_exact(value):
    assert jsonbody.loads(f'{{"n": {value}}}'.encode()) == {"n": value}


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 2**64, 10**30])
def test_loads_refuses_integers_beyond_64_bits(value):
    with pytest.raises(jsonbody.JSONBodyError, match="64 bits"):
        jsonbody.loads(f'{{"n": {value}}}'.encode())


def test_loads_long_digit_run_inside_a_string_is_just_text():
    assert jsonbody.loads(f'{{"id": "{LONG_DIGITS}"}}'.encode()) == {"id": LONG_DIGITS}


def nested_lists(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


@pytest.mark.parametrize("extra", [b"", f', "{LONG_DIGITS}"'.encode()], ids=["fast", "exact"])
def test_loads_depth_limit(extra):
    # The outer list sits at depth 0, so MAX_DEPTH + 1 levels of lists are allowed.
    allowed = jsonbody.MAX_DEPTH + 1
    assert jsonbody.loads(b"[" + nested_lists(allowed - 1) + extra + b"]")
    with pytest.raises(jsonbody.JSONBodyError, match="nesting"):
        jsonbody.loads(b"[" + nested_lists(allowed) + extra + b"]")


@pytest.mark.parametrize("extra", [b"", f', "{LONG_DIGITS}"'.encode()], ids=["fast", "exact"])
@pytest.mark.parametrize("leaf", [b"1", b'"x"', b"{}", b"[]"], ids=str)
def test_loads_counts_a_scalar_as_a_level(extra, leaf):
    # A value one level below the deepest allowed list is refused, a scalar too.
    allowed = jsonbody.MAX_DEPTH + 1
    assert jsonbody.loads(b"[" * (allowed - 1) + leaf + b"]" * (allowed - 1)) is not None
    deep = b"[" * allowed + leaf + b"]" * allowed
    with pytest.raises(jsonbody.JSONBodyError, match="nesting"):
        jsonbody.loads(deep[:-1] + extra + b"]")


def test_loads_accepts_an_escaped_backslash_before_u0000():
    # The text \u0000 (a backslash, then "u0000") holds no NUL character.
    assert jsonbody.loads(b'{"k": "a\\\\u0000b"}') == {"k": "a\\u0000b"}


@pytest.mark.parametrize("extra", [b"", f', "{LONG_DIGITS}"'.encode()], ids=["fast", "exact"])
@pytest.mark.parametrize("depth", [40, 2000, 100_000])
def test_loads_refuses_very_deep_nesting(depth, extra):
    with pytest.raises(jsonbody.JSONBodyError):
        jsonbody.loads(b"[" + nested_lists(depth) + extra + b"]")


@pytest.mark.parametrize("extra", ["", f', "{LONG_DIGITS}"'], ids=["fast", "exact"])
@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"], ids=str)
def test_loads_refuses_non_finite_numbers(literal, extra):
    with pytest.raises(jsonbody.JSONBodyError):
        jsonbody.loads(f"[{literal}{extra}]".encode())


@pytest.mark.parametrize("extra", ["", f', "x": "{LONG_DIGITS}"'], ids=["fast", "exact"])
@pytest.mark.parametrize(
    "body",
    [
        '{"k": "a\\u0000b"%s}',
        '{"k\\u0000": 1%s}',
        '{"k": [{"deep": "\\u0000"}]%s}',
    ],
    ids=["value", "key", "nested"],
)
def test_loads_refuses_nul_characters(body, extra):
    with pytest.raises(jsonbody.JSONBodyError, match="NUL"):
        jsonbody.loads((body % extra).encode())


@pytest.mark.parametrize("extra", ["", f', "x": "{LONG_DIGITS}"'], ids=["fast", "exact"])
@pytest.mark.parametrize(
    "body", ['{"k": "\\ud800"%s}', '{"\\udc00": 1%s}', '{"k": "a\\ude00b"%s}'], ids=str
)
def test_loads_refuses_lone_surrogates(body, extra):
    with pytest.raises(jsonbody.JSONBodyError):
        jsonbody.loads((body % extra).encode())


@pytest.mark.parametrize("extra", ["", f', "x": "{LONG_DIGITS}"'], ids=["fast", "exact"])
def test_loads_accepts_surrogate_pairs_and_utf8(extra):
    decoded = jsonbody.loads(('{"k": "\\ud83d\\ude00 é"%s}' % extra).encode())  # noqa: UP031

    assert decoded["k"] == "😀 é"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   ",
        b"{",
        b"{'a': 1}",
        b'{"a": 1,}',
        b'{"a": 1} x',
        b"\x00",
        b'{"a": "\x00"}',
        b'{"a": "\xff"}',
        b'\xef\xbb\xbf{"a": 1}',
        '{"a": 1}'.encode("utf-16"),
        ("1" * 5000).encode(),
    ],
    ids=repr,
)
def test_loads_refuses_malformed_bodies(body):
    with pytest.raises(jsonbody.JSONBodyError):
        jsonbody.loads(body)


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: codecs.BOM_UTF8 + text.encode(),
        lambda text: text.encode("utf-16"),
        lambda text: text.encode("utf-16-le"),
        lambda text: text.encode("utf-32"),
        lambda text: text.encode("latin-1"),
    ],
    ids=["utf-8 BOM", "utf-16", "utf-16-le", "utf-32", "latin-1"],
)
def test_loads_takes_utf8_only_whatever_the_digits(encode):
    """A body is UTF-8 without a BOM; a run of 19+ digits (decoded by the standard
    library, which guesses UTF-16/32 and drops a BOM) must not change the answer."""
    messages = set()
    for number in (1, 1234567890123456789):  # 19 digits, within 64 bits
        with pytest.raises(jsonbody.JSONBodyError) as refused:
            jsonbody.loads(encode(f'{{"k": "é", "n": {number}}}'))
        messages.add(str(refused.value))

    assert len(messages) == 1, messages
    (message,) = messages
    assert message.startswith("Malformed JSON: ")


def test_json_body_error_is_a_value_error():
    assert issubclass(jsonbody.JSONBodyError, ValueError)


def test_duplicate_keys_keep_the_last_value():
    assert jsonbody.loads(b'{"a": 1, "a": 2}') == {"a": 2}


# What orjson can decode from a body without a \u0000 escape: no NUL, no surrogate.
_TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00"))
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=jsonbody.INT64_MIN, max_value=jsonbody.INT64_MAX)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=60,
)


@given(value=_JSON, wrap=st.integers(min_value=0, max_value=jsonbody.MAX_DEPTH + 2))
def test_the_nesting_check_alone_agrees_with_the_full_check(value, wrap):
    # What orjson decodes holds no NUL, surrogate or non-finite number, so checking its
    # nesting alone must refuse exactly what the full check refuses.
    for _ in range(wrap):
        value = [value]

    def refused(check) -> bool:
        try:
            check(value)
        except jsonbody.JSONBodyError:
            return True
        return False

    assert refused(jsonbody._check_depth) == refused(jsonbody.check_value)
