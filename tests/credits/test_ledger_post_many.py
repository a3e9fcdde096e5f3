"""ledger_many.post_many: many usage transactions set-based, each standing alone, with the
rules of post_transaction — balanced, never negative, an organization closed meanwhile
refuses its movements and moves nothing."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tenants.access.actors import SYSTEM
from tenants.core.errors import OrganizationClosed
from tenants.core.extensions import db
from tenants.credits import ledger_many
from tenants.credits.ledger import Posting
from tenants.jobs.outbox import commit
from tenants.models import LedgerEntry, Organization, OrganizationStatus
from tenants.models.ledger import SYSTEM_ACCOUNT, AccountKind, AccountRef, EntryType
from tests.credits.conftest import day_totals, fund, system_credits


def usage(org, credits: int, reference: str) -> ledger_many.Movement:
    return ledger_many.Movement(
        org,
        [
            Posting(SYSTEM_ACCOUNT, -credits, EntryType.USAGE),
            Posting(AccountRef(AccountKind.USAGE), credits, EntryType.USAGE),
        ],
        reference=reference,
    )


def test_each_movement_stands_alone_in_order_and_every_transaction_balances(
    create_organization,
):
    one, two = create_organization(name="One"), create_organization(name="Two")
    fund(one, 10)
    fund(two, 3)
    results = ledger_many.post_many(
        SYSTEM,
        [usage(one, 6, "a"), usage(two, 4, "b"), usage(one, 6, "c"), usage(one, 4, "d")],
    )
    commit()
    assert [type(r).__name__ if not isinstance(r, str) else "id" for r in results] == [
        "id",
        "InsufficientCredits",
        "InsufficientCredits",
        "id",
    ]
    assert (system_credits(one), system_credits(two)) == (0, 3)
    rows = db.session.execute(
        sa.select(LedgerEntry.transaction_id, sa.func.sum(LedgerEntry.credits))
        .where(LedgerEntry.type == EntryType.USAGE)
        .group_by(LedgerEntry.transaction_id)
    ).all()
    assert len(rows) == 2 and {total for _, total in rows} == {0}
    assert db.session.get(Organization, one.id).total_credits == 0


def test_an_organization_deleted_meanwhile_refuses_its_movements_and_moves_nothing(
    create_organization,
):
    gone, kept = create_organization(name="Gone"), create_organization(name="Kept")
    fund(gone, 10)
    fund(kept, 10)
    # Deleted by another request after this one read it (its object still says active).
    db.session.execute(
        sa.update(Organization)
        .where(Organization.id == gone.id)
        .values(status=OrganizationStatus.DELETED)
        .execution_options(synchronize_session=False)
    )
    results = ledger_many.post_many(SYSTEM, [usage(gone, 5, "g"), usage(kept, 5, "k")])
    commit()
    assert isinstance(results[0], OrganizationClosed) and isinstance(results[1], str)
    assert (system_credits(gone), system_credits(kept)) == (10, 5)
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(LedgerEntry).where(LedgerEntry.reference == "g")
        )
        == 0
    )
    # Its usage is in no day total either (PostgreSQL counts the day totals before the
    # totals' UPDATE finds it deleted, then takes them back); the kept one's is.
    days = day_totals()
    assert days.get(gone.id, 0) == 0 and days[kept.id] == 5
    assert db.session.get(Organization, kept.id).forecast_usage_7d == 5


def test_it_takes_credits_out_of_holding_accounts_only(create_organization):
    org = create_organization()
    into = ledger_many.Movement(
        org,
        [
            Posting(SYSTEM_ACCOUNT, 5, EntryType.PURCHASE),
            Posting(AccountRef(AccountKind.PURCHASES), -5, EntryType.PURCHASE),
        ],
    )
    with pytest.raises(ValueError, match="out of holding accounts"):
        ledger_many.post_many(SYSTEM, [into])
