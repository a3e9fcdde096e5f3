"""Postpaid statements: opening debt, charges with their tax, the invoice issued, payments
and a voided one, closing debt, checked against hand-computed numbers and the debt on
record."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tenants.billing import postpaid, statements
from tenants.core.errors import Forbidden
from tests.conftest import member_actor, owner_actor, staff_actor


def test_november_from_the_october_charges_to_the_debt_on_record(madrid):
    statement = statements.month_statement(owner_actor(madrid.org), madrid.org, "2026-11")
    lines = list(statement.lines())
    assert statement.opening == Decimal("8.0465")  # October's charges with their exact tax
    assert [(line.type, line.change) for line in lines] == [
        ("invoice", Decimal("0.0035")),  # 8.05 invoiced for 8.0465 charged: its rounding
        ("usage", Decimal("0.605")),
        ("payment", Decimal("-5.00")),
        ("payment", Decimal("-2.00")),
        ("payment_void", Decimal("2.00")),
    ]
    invoice = lines[0]
    assert (invoice.amount, invoice.tax) == (Decimal("6.65"), Decimal("1.40"))
    charge = lines[1]
    assert (charge.credits, charge.amount, charge.tax) == (10, Decimal("0.50"), Decimal("0.105"))
    assert statement.closing == Decimal("3.655") == lines[-1].balance
    assert statement.balanced
    assert statement.closing == postpaid.organization_debt(madrid.org)


def test_october_opens_at_nothing_and_closes_at_its_charges(madrid):
    statement = statements.month_statement(owner_actor(madrid.org), madrid.org, "2026-10")
    lines = list(statement.lines())
    assert statement.opening == 0
    assert [line.change for line in lines] == [Decimal("6.05"), Decimal("1.9965")]
    assert statement.tally.amounts["usage"] == Decimal("6.65")
    assert statement.tally.taxes["usage"] == Decimal("1.3965")
    assert statement.closing == Decimal("8.0465") and statement.balanced


def test_months_chain_and_this_month_closes_at_the_debt(madrid):
    owner = owner_actor(madrid.org)
    previous = Decimal(0)
    for month in ("2026-09", "2026-10", "2026-11", "2026-12"):
        statement = statements.month_statement(owner, madrid.org, month)
        list(statement.lines())
        assert statement.balanced and statement.opening == previous
        previous = statement.closing
    assert previous == postpaid.organization_debt(madrid.org) == Decimal("3.655")


def test_reseller_staff_read_it_and_a_plain_member_does_not(madrid, create_member):
    agent = staff_actor(madrid.reseller, madrid.staff)
    statement = statements.month_statement(agent, madrid.org, "2026-11")
    list(statement.lines())
    assert statement.closing == Decimal("3.655")
    member = member_actor(create_member(madrid.org, role="member"))
    with pytest.raises(Forbidden):
        statements.month_statement(member, madrid.org, "2026-11")
