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
