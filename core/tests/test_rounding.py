"""core.rounding: a ratio to so many places, a half away from zero, exactly."""

from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.rounding import round_half_up


@pytest.mark.parametrize(
    ("numerator", "denominator", "places", "expected"),
    [
        (9, 8, 2, 1.13),  # round(9 / 8, 2) is 1.12: a half to even
        (5, 8, 2, 0.63),
        (-9, 8, 2, -1.13),  # away from zero, as a half of a negative total
        (1, 32, 4, 0.0313),
        (2, 3, 4, 0.6667),
        (1, 3, 0, 0.0),
        (10**30 + 1, 2, 1, 5e29),
    ],
)
def test_a_half_goes_away_from_zero(numerator, denominator, places, expected):
    assert round_half_up(numerator, denominator, places) == expected


@given(
    numerator=st.integers(min_value=-(10**20), max_value=10**20),
    denominator=st.integers(min_value=1, max_value=10**12),
    places=st.integers(min_value=0, max_value=6),
)
def test_it_is_the_exact_quotient_rounded_half_up(numerator, denominator, places):
    exact = Fraction(numerator, denominator)
    with localcontext() as context:
        context.prec = 80  # enough digits for the exact quotient's first places
        quotient = Decimal(numerator) / Decimal(denominator)
        rounded = quotient.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    assert round_half_up(numerator, denominator, places) == float(rounded)
    assert abs(Fraction(rounded) - exact) <= Fraction(1, 2 * 10**places)


def test_a_denominator_of_zero_is_refused():
    with pytest.raises(ValueError, match="positive"):
        round_half_up(1, 0)
