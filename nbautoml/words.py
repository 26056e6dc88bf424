"""Counts in messages: "1 row", "2 rows", not "1 row(s)"."""

from __future__ import annotations


def counted(n: int, word: str, plural: str | None = None) -> str:
    """``n`` and ``word``, in the plural unless ``n`` is 1.

    Examples
    --------
    >>> counted(1, "row"), counted(3, "row"), counted(2, "category", "categories")
    ('1 row', '3 rows', '2 categories')
    """
    return f"{n} {word if n == 1 else plural or word + 's'}"


def are(n: int) -> str:
    """The verb that agrees with a count: "is" for 1, "are" otherwise."""
    return "is" if n == 1 else "are"
