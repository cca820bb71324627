"""Personal data out of the logs: the people routes carry an email or a distinct_id in
their path (/api/people/<distinct_id>/…, /api/people/by-email/<email>). Standard library
only: gunicorn.conf.py imports it in the master, before Django is set up."""

import logging
import re

PLACEHOLDER = "[redacted]"
# The segment after /api/people/ (and after by-email/), wherever a path appears in a line.
_PERSON_SEGMENT = re.compile(r"(/api/people/(?:by-email/)?)[^/\s?#\"']+")


# C0 controls (line breaks, NUL, ESC, …), DEL, C1 controls and the Unicode line and
# paragraph separators: each could end a log line or disguise one (a path with %0A and a
# fake request line after it). Written as \xNN or \uNNNN instead.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _escaped(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    r"""`/x\n127.0.0.1 - -` → `/x\x0a127.0.0.1 - -`: a value from a request (its path, a
    header) written into a log line stays on that line."""
    return _CONTROL.sub(_escaped, text)


def redact_person_paths(text: str) -> str:
    """`/api/people/jan@shop.example/export` → `/api/people/[redacted]/export`."""
    return _PERSON_SEGMENT.sub(rf"\g<1>{PLACEHOLDER}", text)


def _redacted(value: object) -> object:
    return escape_controls(redact_person_paths(value)) if isinstance(value, str) else value


class RedactPersonPaths(logging.Filter):
    """Django's request log names the path of every 4xx and 5xx ("Not Found: /api/people/
    by-email/…"), and gunicorn's error log the URI of a request it failed. The values put
    into a message (its arguments) come with their control characters escaped: a message's
    own text is the program's (a traceback keeps its lines)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact_person_paths(str(record.msg))
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _redacted(value) for key, value in record.args.items()}
        return True


class SecurityWithoutTraceback(logging.Filter):
    """A request Django refuses as suspicious (a Host not in ALLOWED_HOSTS, as scanners
    asking by address send) is logged by `django.security.*` with its traceback: 14 lines
    for each. The message names what was refused; the traceback is Django's own code."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("django.security."):
            record.exc_info = record.exc_text = None
        return True
