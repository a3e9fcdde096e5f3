"""Postpaid usage: charges priced by the reseller, the credit limit, closed months."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from tenants.billing import monthly_run, postpaid
from tenants.core.errors import InsufficientCredits, PeriodInvoiced
from tenants.core.extensions import db
from tenants.credits.purchases import PriceNotSet
from tenants.jobs.outbox import commit, rollback
from tenants.models import Charge, EntryType, LedgerEntry, Organization, PostpaidAccount
from tests.billing.conftest import TAXES, reload, use
from tests.conftest import set_prices


def test_usage_accrues_a_charge_at_the_postpaid_price(clock, create_postpaid):
    org = create_postpaid(limit="100")
    entry = use(org, 200, reference="campaign-1")

    charge = db.session.scalar(select(Charge).where(Charge.organization_id == org.id))
    assert (charge.credits, charge.unit_price, charge.amount) == (200, Decimal("0.05"), Decimal(10))
    assert charge.reference == "campaign-1"
    # The debt counts the 21 % tax the charge will carry on its invoice.
    assert charge.tax_percent == Decimal(21) and charge.tax == Decimal("2.10")
    assert postpaid.organization_debt(org) == Decimal("12.10")
    assert reload(org).debt == Decimal("12.10")
    # The movement shows on the system account, outgoing, with the money it cost.
    assert entry.type == EntryType.USAGE
    assert entry.account_label == "system"
    # Billed, not deducted: the account, and the balance after the movement, stay at 0.
    assert (entry.credits, entry.amount, entry.balance_after) == (-200, Decimal(10), 0)


def test_usage_without_a_postpaid_price_is_a_clear_conflict(
    clock, create_reseller, create_organization
):
    reseller = create_reseller()
    org = create_organization(reseller=reseller, pricing_model="postpaid")
    with pytest.raises(PriceNotSet) as refused:
        use(org, 1)
    rollback()
    assert refused.value.code == "price_not_set"


def test_credit_limit_refuses_usage_that_would_pass_it(clock, create_postpaid):
    org = create_postpaid(limit="12.10")  # the limit counts the 21 % tax the usage carries
    use(org, 150)  # 7.50 + 1.575 tax
    with pytest.raises(InsufficientCredits) as refused:
        use(org, 51)  # 2.55 + 0.5355 would make 12.1605
    rollback()
    assert refused.value.status == 402
    assert refused.value.code == "insufficient_credits"
    use(org, 50)  # 2.50 + 0.525: exactly the limit is fine
    assert postpaid.organization_debt(org) == Decimal("12.10")
    assert db.session.scalar(select(db.func.count()).select_from(Charge)) == 2


def test_a_new_postpaid_organization_has_no_limit_until_the_reseller_sets_one(
    clock, create_postpaid
):
    org = create_postpaid(limit="0")
    with pytest.raises(InsufficientCredits):
        use(org, 1)
    rollback()


def test_usage_in_an_invoiced_month_is_refused(clock, create_postpaid):
    org = create_postpaid()
    use(org, 10, at=datetime(2026, 10, 30, 12, tzinfo=UTC))
    result = monthly_run.run_monthly("2026-10", now=clock.now)
    assert result.invoiced == 1
    with pytest.raises(PeriodInvoiced) as refused:
        use(org, 5, at=datetime(2026, 10, 31, 22, tzinfo=UTC))
    rollback()
    assert refused.value.status == 409
    assert "already invoiced" in str(refused.value)
    use(org, 5, at=datetime(2026, 11, 1, 9, tzinfo=UTC))  # November is still open
    account = db.session.get(PostpaidAccount, org.id, populate_existing=True)
    assert account.unbilled == Decimal("0.25")


def test_late_usage_into_an_ended_month_not_yet_invoiced_is_accepted(clock, create_postpaid):
    org = create_postpaid()
    use(org, 10, at=datetime(2026, 10, 29, tzinfo=UTC))
    monthly_run.run_monthly("2026-09", now=clock.now)  # September had nothing: not closed
    use(org, 10, at=datetime(2026, 10, 30, tzinfo=UTC))
    assert postpaid.organization_debt(org) == Decimal("1.21")  # 1.00 and its 21 % tax


def test_suspended_postpaid_organization_usage_is_refused(clock, create_postpaid):
    from tenants.core.errors import OrganizationSuspended

    org = create_postpaid()
    org.status = "suspended"
    commit()
    with pytest.raises(OrganizationSuspended):
        use(org, 1)
    rollback()


def test_charges_are_immutable(clock, create_postpaid):
    org = create_postpaid()
    use(org, 3)
    with pytest.raises(Exception, match="immutable"):
        db.session.execute(text("UPDATE charges SET credits = 1"))
    rollback()
    with pytest.raises(Exception, match="immutable"):
        db.session.execute(text("DELETE FROM charges"))
    rollback()


def test_customer_app_debt_column_follows_usage_and_invoices(clock, create_postpaid):
    org = create_postpaid()
    use(org, 100, at=datetime(2026, 10, 25, tzinfo=UTC))
    monthly_run.run_monthly("2026-10", now=clock.now)
    debt = db.session.scalar(select(Organization.debt).where(Organization.id == org.id))
    assert debt == postpaid.organization_debt(org) == Decimal("6.05")  # 5.00 + 21 % tax


def test_prices_change_and_old_charges_keep_theirs(clock, create_postpaid, reseller):
    org = create_postpaid()
    use(org, 10)
    set_prices(reseller, postpaid="0.10", taxes=TAXES)
    use(org, 10)
    amounts = sorted(db.session.scalars(select(Charge.amount)))
    assert amounts == [Decimal("0.50"), Decimal("1.00")]
    assert (
        db.session.scalar(
            select(db.func.count()).select_from(LedgerEntry).where(LedgerEntry.type == "usage")
        )
        == 4
    )  # two postings each
