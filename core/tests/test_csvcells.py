"""CSV cells a spreadsheet shows and never runs as formulas."""

import csv
import io

import pytest

from core.csvcells import CSVLines, csv_cell


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+1", "'+1+1"),
        ("-1+1", "'-1+1"),
        ("-5", "'-5"),  # text that looks like a number is still text
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("pro", "pro"),
        ("a=b", "a=b"),
        ("", ""),
        (None, ""),
        (-5, "-5"),
        (-2.5, "-2.5"),
        (-(2**63), "-9223372036854775808"),
        (0, "0"),
        (True, "true"),
        (["=x"], '["=x"]'),
        ({"a": 1}, '{"a":1}'),
    ],
)
def test_text_that_reads_as_a_formula_is_quoted_and_numbers_stay(value, cell):
    assert csv_cell(value) == cell


def test_lines_quote_every_cell_through_the_csv_dialect():
    lines = CSVLines()

    text = lines.line(["=1,2", -3, None]) + lines.line(["x"])

    assert list(csv.reader(io.StringIO(text))) == [["'=1,2", "-3", ""], ["x"]]
