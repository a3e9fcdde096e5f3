"""Ids made a thousand at a time (a batch's ledger rows) are ids like any other: the record
id shape, time-ordered after the ids made before them, all distinct."""

from __future__ import annotations

from tenants.core.types import is_record_id, new_id, new_ids


def test_ids_made_in_bulk_have_the_shape_and_order_of_single_ones():
    before = new_id("ent")
    many = new_ids("ent", 1000)
    after = new_id("ent")
    assert len(many) == len(set(many)) == 1000
    assert all(is_record_id(value) and value.startswith("ent_") for value in many)
    # The time part (the first 10 characters after the prefix) keeps creation order.
    assert before[:14] <= min(many)[:14] <= max(many)[:14] <= after[:14]
    assert new_ids("txn", 0) == []


def test_the_random_part_of_bulk_ids_uses_every_character_alike():
    """Each of the last 16 characters is one of the 32 equally often (5 random bits each:
    80 in all), so ids made in bulk are as hard to guess as single ones."""
    from collections import Counter

    counts = Counter(char for value in new_ids("ent", 20_000) for char in value[-16:])
    assert len(counts) == 32
    expected = 20_000 * 16 / 32
    assert all(abs(n - expected) < expected * 0.08 for n in counts.values()), counts
