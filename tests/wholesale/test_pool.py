"""The wholesale pool (SPEC §4b): every credit a customer receives, and every credit of
postpaid usage, comes out of the reseller's pool in the same transaction; withdrawals and
refunds go back; an empty pool refuses (402) and nothing is applied."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from tenants.access.actors import SYSTEM
from tenants.billing.postpaid import refund_postpaid_usage
from tenants.billing.usage import UsageEvent, record_usage, record_usage_batch
from tenants.core.errors import (
    Forbidden,
    InsufficientCredits,
    ResellerCreditsExhausted,
    ValidationFailed,
)
from tenants.core.extensions import db
from tenants.credits import ledger, purchases
from tenants.credits import operations as credits
from tenants.jobs.outbox import commit, rollback
from tenants.models import (
    AuditEntry,
    EntryType,
    LedgerEntry,
    Purchase,
    PurchaseStatus,
    QueuedJob,
    WholesaleDraw,
    WholesaleLot,
)
from tenants.models.ledger import SYSTEM_ACCOUNT
from tenants.wholesale import operations as wholesale
from tenants.wholesale.pool import pool_summary
from tests.conftest import new_reference, owner_actor
from tests.wholesale.conftest import add_lot, assert_balanced, pool_credits

GOOD_CARD = "4242 4242 4242 4242"


@pytest.fixture
def prepaid(small_reseller, create_organization):
    return create_organization(reseller=small_reseller, pricing_model="prepaid")


@pytest.fixture
def postpaid(small_reseller, create_organization):
    org = create_organization(reseller=small_reseller, pricing_model="postpaid")
    org.credit_limit = Decimal("1000")
    commit()
    return org


def grant(org, amount: int, entry_type=EntryType.PURCHASE):
    credits.add_credits(SYSTEM, org, SYSTEM_ACCOUNT, amount, entry_type=entry_type)
    commit()


def ledger_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry))


def test_credits_a_customer_receives_come_out_of_the_pool(small_reseller, prepaid):
    grant(prepaid, 300)
    grant(prepaid, 200, EntryType.ADJUSTMENT)  # a grant draws like a sale
    assert pool_credits(small_reseller) == 500
    assert_balanced(small_reseller)


def test_prepaid_usage_and_transfers_leave_the_pool_alone(small_reseller, prepaid):
    grant(prepaid, 300)
    record_usage(SYSTEM, prepaid, credits=120, reference=new_reference())
    commit()
    assert pool_credits(small_reseller) == 700
    assert_balanced(small_reseller)


def test_a_withdrawal_goes_back_to_the_pool(small_reseller, prepaid):
    grant(prepaid, 300)
    credits.withdraw_credits(SYSTEM, prepaid, "system", 100, reason="Closing")
    commit()
    assert pool_credits(small_reseller) == 800
    assert_balanced(small_reseller)


def test_a_grant_the_pool_cannot_cover_is_refused_and_nothing_is_applied(small_reseller, prepaid):
    grant(prepaid, 900)
    entries = ledger_count()
    with pytest.raises(ResellerCreditsExhausted) as refused:
        credits.add_credits(SYSTEM, prepaid, SYSTEM_ACCOUNT, 101)
    rollback()
    assert refused.value.status == 402
    assert refused.value.code == "reseller_credits_exhausted"
    assert ledger_count() == entries
    assert ledger.balance(prepaid).system_credits == 900
    assert pool_credits(small_reseller) == 100
    assert_balanced(small_reseller)


def test_a_card_purchase_the_pool_cannot_cover_is_refused_before_the_card_is_charged(
    small_reseller, prepaid
):
    actor = owner_actor(prepaid)
    purchase = purchases.start_purchase(
        actor, prepaid, credit_count=600, account="system", payment_method="sandbox"
    )
    commit()
    grant(prepaid, 500)  # meanwhile, the pool runs down
    with pytest.raises(ResellerCreditsExhausted):
        purchases.pay(actor, purchase, {"card_number": GOOD_CARD})
    rollback()
    assert db.session.get(Purchase, purchase.id).status == PurchaseStatus.PENDING
    with pytest.raises(ResellerCreditsExhausted):
        purchases.start_purchase(
            actor, prepaid, credit_count=501, account="system", payment_method="sandbox"
        )
    rollback()
    assert_balanced(small_reseller)


def test_a_paid_purchase_draws_in_its_own_transaction(small_reseller, prepaid):
    actor = owner_actor(prepaid)
    purchase = purchases.start_purchase(
        actor, prepaid, credit_count=400, account="system", payment_method="sandbox"
    )
    commit()
    purchases.pay(actor, purchase, {"card_number": GOOD_CARD})
    commit()
    assert purchase.status == PurchaseStatus.PAID
    assert pool_credits(small_reseller) == 600
    draw = db.session.scalar(sa.select(WholesaleDraw))
    entry = db.session.scalar(
        sa.select(LedgerEntry).where(LedgerEntry.reference == purchase.id).limit(1)
    )
    assert (draw.organization_id, draw.credits) == (prepaid.id, 400)
    assert draw.transaction_id == entry.transaction_id
    assert_balanced(small_reseller)


def test_postpaid_usage_draws_and_its_refund_goes_back(small_reseller, postpaid):
    reference = new_reference()
    record_usage(SYSTEM, postpaid, credits=250, reference=reference)
    commit()
    assert pool_credits(small_reseller) == 750
    refund_postpaid_usage(SYSTEM, postpaid, credits=50, reference=reference)
    commit()
    assert pool_credits(small_reseller) == 800
    assert_balanced(small_reseller)


def test_postpaid_usage_past_the_pool_is_refused_402_and_nothing_is_charged(
    small_reseller, postpaid
):
    with pytest.raises(ResellerCreditsExhausted):
        record_usage(SYSTEM, postpaid, credits=1001, reference=new_reference())
    rollback()
    db.session.refresh(postpaid)
    assert postpaid.debt == 0
    assert ledger_count() == 0
    assert pool_credits(small_reseller) == 1000


def test_a_batch_refuses_only_the_postpaid_events_the_pool_cannot_cover(
    small_reseller, postpaid, prepaid
):
    grant(prepaid, 100)  # pool 900
    events = [
        UsageEvent(postpaid.id, 600, new_reference()),
        UsageEvent(prepaid.id, 50, new_reference()),  # held credits: no pool needed
        UsageEvent(postpaid.id, 400, new_reference()),  # 300 left: refused
        UsageEvent(postpaid.id, 300, new_reference()),
    ]
    results = record_usage_batch(SYSTEM, events)
    commit()
    assert [r.status.value for r in results] == ["accepted", "accepted", "refused", "accepted"]
    assert results[2].error.code == "reseller_credits_exhausted"
    assert pool_credits(small_reseller) == 0
    assert_balanced(small_reseller)


def test_draws_take_the_oldest_lot_first_and_returns_refill_the_newest(small_reseller, prepaid):
    second = add_lot(small_reseller, 500, "0.030")
    first = db.session.scalar(sa.select(WholesaleLot).where(WholesaleLot.id != second.id))
    grant(prepaid, 1200)  # 1,000 of the first lot, 200 of the second
    draws = db.session.execute(
        sa.select(WholesaleDraw.lot_id, WholesaleDraw.credits).order_by(WholesaleDraw.id)
    ).all()
    assert sorted(draws) == sorted([(first.id, 1000), (second.id, 200)])
    credits.withdraw_credits(SYSTEM, prepaid, "system", 300, reason="Too many")
    commit()
    db.session.expire_all()
    assert (first.remaining, second.remaining) == (100, 500)
    assert_balanced(small_reseller)


def test_the_pool_alerts_reseller_admins_once_per_crossing(
    small_reseller, prepaid, create_reseller_staff
):
    from tenants.models import ResellerRole

    create_reseller_staff(small_reseller, ResellerRole.ADMIN)
    create_reseller_staff(small_reseller, ResellerRole.AGENT)
    wholesale.set_low_pool_threshold(SYSTEM, small_reseller, 500)
    commit()

    def alerts() -> int:
        return db.session.scalar(
            sa.select(sa.func.count())
            .select_from(QueuedJob)
            .where(QueuedJob.name == "send_low_pool_email")
        )

    grant(prepaid, 400)  # 600: above
    assert alerts() == 0
    grant(prepaid, 150)  # 450: crosses, one admin
    assert alerts() == 1
    grant(prepaid, 50)  # 400: still below, no second alert
    assert alerts() == 1
    add_lot(small_reseller, 1000, "0.020")  # 1,400: re-armed
    grant(prepaid, 1000)  # 400: crosses again
    assert alerts() == 2
    assert pool_summary(small_reseller.id).is_low


def test_only_the_platform_adds_lots_and_bad_input_is_refused(small_reseller, prepaid):
    with pytest.raises(Forbidden):
        wholesale.add_lot(
            owner_actor(prepaid), small_reseller, credits=10, unit_cost="0.02", currency="EUR"
        )
    rollback()
    with pytest.raises(ValidationFailed) as refused:
        wholesale.add_lot(SYSTEM, small_reseller, credits=0, unit_cost="-1", currency="XXQ")
    rollback()
    assert set(refused.value.fields) == {"credits", "unit_cost", "currency"}


def test_adding_a_lot_is_audited(small_reseller):
    entry = db.session.scalar(
        sa.select(AuditEntry).where(AuditEntry.action == "wholesale.lot_added")
    )
    assert entry.reseller_id == small_reseller.id
    assert entry.changes["credits"] == [None, 1000]


def test_prepaid_usage_never_needs_the_pool(small_reseller, prepaid):
    grant(prepaid, 1000)  # the pool is empty now
    record_usage(SYSTEM, prepaid, credits=1000, reference=new_reference())
    commit()
    with pytest.raises(InsufficientCredits):
        record_usage(SYSTEM, prepaid, credits=1, reference=new_reference())
    rollback()
    assert_balanced(small_reseller)
