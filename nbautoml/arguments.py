"""argparse value types shared by the command line and the magics.

Light on purpose: the parser a type calls is imported when a value is parsed, not when
``%load_ext nbautoml`` or ``nbautoml --help`` runs.
"""

from __future__ import annotations

import argparse
import importlib
import math
import re

_UNITS = {"": 1, "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
          "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
          "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600}
_DURATION = re.compile(r"^\s*([+-]?[0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z]*)\s*$", re.IGNORECASE)
SECONDS_EXPECTED = "a number of seconds > 0, or with a unit: 30s, 2m, 1.5h"


def seconds(text) -> float:
    """A duration > 0 in seconds: ``"90"``, ``"90s"``, ``"2m"``, ``"1.5h"`` (or a number).

    Raises
    ------
    ValueError
        Saying what a duration looks like.
    """
    if isinstance(text, str):
        match = _DURATION.match(text)
        if match is None or match.group(2).lower() not in _UNITS:
            raise ValueError(f"{text!r} is not a duration: give {SECONDS_EXPECTED}")
        value = float(match.group(1)) * _UNITS[match.group(2).lower()]
    else:
        value = float(text)
    if not 0 < value < math.inf:
        raise ValueError(f"must be {SECONDS_EXPECTED}; got {text}")
    return value


def duration(text) -> float:
    """An argparse type for :func:`seconds` (its message, not "invalid float value")."""
    try:
        return seconds(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


duration.__name__ = "duration"
duration.expected = SECONDS_EXPECTED


def checked(parser: str, name: str, expected: str | None = None):
    """An argparse type that calls ``parser`` ("module:function", imported at first use) on
    the text.

    The parser's ``ValueError`` becomes an ``ArgumentTypeError``, so argparse prints the
    parser's own message ("argument --jobs: ...") instead of "invalid <name> value: 'x'".
    ``name`` is the type's ``__name__`` and ``expected`` (optional) what the magics' help
    says the value must be.
    """
    module, _, function = parser.partition(":")

    def convert(text):
        parse = getattr(importlib.import_module(module), function)
        try:
            return parse(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    convert.__name__ = convert.__qualname__ = name
    if expected is not None:
        convert.expected = expected
    return convert
