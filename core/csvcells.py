"""CSV that a spreadsheet shows and never runs: every text cell that a spreadsheet would
read as a formula (it begins with =, +, -, @, a tab or a carriage return) is prefixed
with a single quote, as OWASP advises; numbers stay numbers (-3 is -3, not '-3)."""

import csv
from collections.abc import Iterable

import orjson

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """`value` as a cell: "" for None, a number as written, JSON for true/false, lists
    and objects, and text (a string, or that JSON) neutralised when it reads as a formula."""
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return orjson.dumps(value).decode()
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


class CSVLines:
    """Lines of a CSV, one per `line(cells)` call, for a streamed response; every cell
    goes through csv_cell."""

    def __init__(self) -> None:
        self._writer = csv.writer(_Echo())

    def line(self, cells: Iterable[object]) -> str:
        return self._writer.writerow([csv_cell(cell) for cell in cells])
