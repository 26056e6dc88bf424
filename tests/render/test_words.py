"""Counts in messages agree with their nouns and verbs."""

from nbautoml.words import are, counted


def test_a_count_takes_the_singular_only_for_one():
    assert [counted(n, "row") for n in (0, 1, 2)] == ["0 rows", "1 row", "2 rows"]
    assert counted(1, "category", "categories") == "1 category"
    assert counted(5, "category", "categories") == "5 categories"
    assert [are(n) for n in (0, 1, 2)] == ["are", "is", "are"]
