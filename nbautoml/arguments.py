"""argparse value types shared by the command line and the magics.

Light on purpose: the parser a type calls is imported when a value is parsed, not when
``%load_ext nbautoml`` or ``nbautoml --help`` runs.
"""

from __future__ import annotations

import argparse
import importlib


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
