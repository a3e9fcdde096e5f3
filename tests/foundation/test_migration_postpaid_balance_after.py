"""The postpaid balance_after migration: rows written with minus the credits not yet
invoiced show the account's balance (0) afterwards; prepaid rows keep theirs; the ledger
stays immutable."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tenants.access.actors import SYSTEM
from tenants.billing.usage import record_usage
from tenants.core.extensions import db
from tenants.core.types import new_id
from tenants.jobs.outbox import commit
from tenants.models import LedgerEntry
from tests.conftest import reseller_with_pool
from tests.foundation.databases import migrate
from tests.foundation.test_migration_usage_references import _organization, portal

BEFORE = "5f1e2a7c9d30"  # the revision before postpaid balance_after is the account's


def _written_before(entry_id: str, balance_after: int) -> str:
    """A copy of an entry with the ``balance_after`` a postpaid movement carried before."""
    table = LedgerEntry.__table__
    row = dict(db.session.execute(sa.select(table).where(table.c.id == entry_id)).mappings().one())
    row.update(id=new_id("ent"), transaction_id=new_id("txn"), balance_after=balance_after)
    db.session.execute(sa.insert(table), row)
    return row["id"]


def _balance_after(entry_id: str) -> int:
    return db.session.scalar(sa.select(LedgerEntry.balance_after).where(LedgerEntry.id == entry_id))


def test_old_postpaid_rows_show_the_account_balance(database, tmp_path):
    app = portal(database, tmp_path)
    with app.app_context():
        org = _organization(reseller_with_pool("Reseller A"), "Acme")
        prepaid = record_usage(SYSTEM, org, credits=5, reference="r1").entry.id
        commit()
        old_postpaid = _written_before(prepaid, -240)
        commit()
        db.engine.dispose()
    migrate(database, tmp_path, "downgrade", BEFORE)
    migrate(database, tmp_path, "upgrade")
    with app.app_context():
        assert (_balance_after(prepaid), _balance_after(old_postpaid)) == (95, 0)
        with pytest.raises(sa.exc.DatabaseError, match="immutable"):
            db.session.execute(
                sa.update(LedgerEntry).where(LedgerEntry.id == prepaid).values(balance_after=1)
            )
        db.session.rollback()
        db.engine.dispose()
