"""Seconds read from text (an environment variable, a command-line option). Imported by
the settings module, so it imports nothing from Django."""

import math


def positive_seconds(text: str) -> float:
    """A finite number of seconds above 0, or ValueError: "abc", "nan", "inf", "0" and
    "-1" are refused. NaN passes `<= 0`, and a loop waiting NaN seconds never waits."""
    seconds = float(text)  # ValueError for "abc"
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"{text!r} is not a number of seconds more than 0")
    return seconds
