"""Ratios rounded as people round them: a half away from zero, worked out from the
integers. Python's `round(part / whole, 2)` rounds the float's binary approximation,
a half to even: 9 / 8 = 1.125 gives 1.12 and 5 / 8 = 0.625 gives 0.62."""


def round_half_up(numerator: int, denominator: int, places: int = 2) -> float:
    """numerator / denominator to `places` decimals, a half rounded away from zero
    (9 / 8 = 1.125 → 1.13), exactly. `denominator` must be positive."""
    if denominator <= 0:
        raise ValueError("The denominator must be positive.")
    scale = 10**places
    units = (2 * abs(numerator) * scale + denominator) // (2 * denominator)
    return (units if numerator >= 0 else -units) / scale
