"""The read-replica plumbing that needs no replica (any database): which statements a
replica block may send to the replica, the read-your-writes window, and that without
DATABASE_REPLICA_URL every read stays on the one database. The routing itself, against a
real streaming replica, is in test_read_replica.py."""

from __future__ import annotations

import sqlalchemy as sa

from tenants.core.database import reads_only
from tenants.core.extensions import db
from tenants.core.replica import reading_engine, replica_reads
from tenants.models import Organization
from tenants.web.replica import WROTE_AT, read_your_writes_seconds
from tests.conftest import owner_of


def test_only_plain_selects_may_go_to_a_replica():
    assert reads_only(sa.select(Organization.id))
    assert reads_only(sa.union(sa.select(Organization.id), sa.select(Organization.id)))
    assert reads_only(sa.text("  SELECT pg_is_in_recovery()"))
    assert not reads_only(sa.select(Organization.id).with_for_update())
    assert not reads_only(sa.select(Organization.id).with_for_update(read=True))
    assert not reads_only(sa.text("SELECT id FROM organizations FOR NO KEY UPDATE"))
    assert not reads_only(sa.text("WITH x AS (DELETE FROM organizations RETURNING id) SELECT 1"))
    assert not reads_only(sa.update(Organization).values(name="x"))
    assert not reads_only(sa.insert(Organization))
    assert not reads_only(sa.delete(Organization))
    assert not reads_only(None)  # session.connection(): raw SQL of any kind


def test_the_window_covers_the_lag_a_replica_may_have_and_still_be_read(app):
    app.config.update(
        READ_YOUR_WRITES_SECONDS=1, REPLICA_MAX_LAG_SECONDS=4, REPLICA_CHECK_SECONDS=2
    )
    assert read_your_writes_seconds() == 6
    app.config["READ_YOUR_WRITES_SECONDS"] = 30
    assert read_your_writes_seconds() == 30


def test_without_a_replica_a_replica_block_reads_the_database_and_nothing_is_stamped(
    app, client, auth, create_organization
):
    org = create_organization(name="Solo SL")
    with replica_reads() as from_replica:
        assert not from_replica
        assert reading_engine() is db.engine
        assert db.session.scalar(sa.select(Organization.name)) == "Solo SL"
    assert auth.login(owner_of(org).user.email).status_code == 302  # a POST
    with client.session_transaction() as session:
        assert "_user_id" in session
        assert WROTE_AT not in session
