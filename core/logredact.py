"""Personal data out of the logs: the people routes carry an email or a distinct_id in
their path (/api/people/<distinct_id>/…, /api/people/by-email/<email>). Standard library
only: gunicorn.conf.py imports it in the master, before Django is set up."""

import logging
import re

PLACEHOLDER = "[redacted]"
# The segment after /api/people/ (and after by-email/), wherever a path appears in a line.
_PERSON_SEGMENT = re.compile(r"(/api/people/(?:by-email/)?)[^/\s?#\"']+")


def redact_person_paths(text: str) -> str:
    """`/api/people/jan@shop.example/export` → `/api/people/[redacted]/export`."""
    return _PERSON_SEGMENT.sub(rf"\g<1>{PLACEHOLDER}", text)


def _redacted(value: object) -> object:
    return redact_person_paths(value) if isinstance(value, str) else value


class RedactPersonPaths(logging.Filter):
    """Django's request log names the path of every 4xx and 5xx ("Not Found: /api/people/
    by-email/…"), and gunicorn's error log the URI of a request it failed."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact_person_paths(str(record.msg))
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _redacted(value) for key, value in record.args.items()}
        return True
