"""JSON read back from the database as it was sent.

PostgreSQL's jsonb keeps every number as `numeric`, which has no float type: a float
sent as 1e21 or 1.7976931348623157e308 comes back as a whole number of 22 or 309
digits, which the standard library reads as an integer. The API refuses integers
outside 64 bits on input (core.jsonbody), so such a number can only have been sent as
a float, and is read back as one: what the 201 said, and what can be sent again.
SQLite keeps the JSON text as written, so nothing there is changed.

Only a text with a run of 19+ digits is decoded with the integer hook (a regular
expression's scan); anything else is decoded as Django decodes it.
"""

import json
import re
from typing import Any

from django.db import models

from core.jsonbody import INT64_DIGITS, INT64_MAX, INT64_MIN

_LONG_DIGIT_RUN = re.compile(f"[0-9]{{{INT64_DIGITS}}}")


def _int_or_float(digits: str) -> int | float:
    number = int(digits)
    return number if INT64_MIN <= number <= INT64_MAX else float(digits)


def loads_stored(text: str, **options: Any) -> Any:
    """`text` decoded, an integer outside 64 bits as a float."""
    if _LONG_DIGIT_RUN.search(text) is None:
        return json.loads(text, **options)
    return json.loads(text, parse_int=_int_or_float, **options)


class StoredJSONField(models.JSONField):
    """A JSONField whose values (and key lookups') read back through `loads_stored` on
    PostgreSQL. Migrations see a plain JSONField: the column is the same."""

    def from_db_value(self, value, expression, connection):
        if connection.vendor == "postgresql" and isinstance(value, str):
            try:
                return loads_stored(value, cls=self.decoder)
            except json.JSONDecodeError:
                return value
        return super().from_db_value(value, expression, connection)

    def deconstruct(self):
        name, _, args, kwargs = super().deconstruct()
        return name, "django.db.models.JSONField", args, kwargs
