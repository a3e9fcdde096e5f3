"""Prepaid statements: a month of the organization's timezone, opening and closing balances
checked against hand-computed numbers, each account on its own, and the check holding for
every month and account of real movements."""

from __future__ import annotations

import pytest

from tenants.access.actors import SYSTEM
from tenants.billing import statements
from tenants.core.errors import Forbidden, NotFound, ValidationFailed
from tenants.credits import ledger
from tenants.credits import operations as credits
from tenants.jobs.outbox import commit
from tenants.models import EntryType
from tenants.models.ledger import SYSTEM_ACCOUNT
from tenants.organizations.members import remove_member
from tests.conftest import member_actor, owner_actor, staff_actor
from tests.statements.conftest import at, member_ref


def walked(statement):
    lines = list(statement.lines())
    return lines


def test_the_month_is_the_organizations_october_and_november(bogota):
    owner = owner_actor(bogota.org)
    october = statements.month_statement(owner, bogota.org, "2026-10")
    lines = walked(october)
    assert (october.opening, october.closing) == (0, 950)
    # Ana's 50 credits used on Oct 31 at 22:00 in Bogotá (Nov 1 03:00 UTC) are October's.
    # The two sides of a transfer happen at the same instant, in either order.
    assert [(line.type, line.change) for line in lines] in (
        [("purchase", 1000), ("transfer_out", -300), ("transfer_in", 300), ("usage", -50)],
        [("purchase", 1000), ("transfer_in", 300), ("transfer_out", -300), ("usage", -50)],
    )
    assert [line.balance for line in lines][2:] == [1000, 950]
    assert october.balanced

    november = statements.month_statement(owner, bogota.org, "2026-11")
    lines = walked(november)
    assert (november.opening, november.closing) == (950, 1000)
    assert sorted((line.type, line.change) for line in lines[2:4]) == [
        ("transfer_in", 60),
        ("transfer_out", -60),
    ]
    assert [(line.type, line.change) for line in lines[:2] + lines[4:]] == [
        ("usage", -40),
        ("withdrawal", -100),
        ("purchase", 200),
        ("usage", -10),  # happened on Nov 20, reported on Dec 2: dated when it happened
    ]
    assert lines[-1].balance == 1000 and november.balanced
    assert november.tally.totals[EntryType.USAGE.value] == -50
    assert november.tally.counts[EntryType.TRANSFER_IN.value] == 1


@pytest.mark.parametrize(
    ("account", "opening", "changes", "closing"),
    [
        ("system", 700, [-100], 600),
        ("ana", 250, [-40, -60], 150),
        ("beto", 0, [60, 200, -10], 250),
    ],
)
def test_each_account_has_its_own_statement(bogota, account, opening, changes, closing):
    value = "system" if account == "system" else member_ref(getattr(bogota, account)).label
    statement = statements.month_statement(owner_actor(bogota.org), bogota.org, "2026-11", value)
    lines = walked(statement)
    assert (statement.opening, statement.closing) == (opening, closing)
    assert [line.change for line in lines] == changes
    assert statement.balanced


def test_the_check_holds_for_every_month_and_account_and_months_chain(bogota):
    """Real movements of every kind (purchases, transfers both ways, usage, late usage,
    withdrawals): opening + movements = closing, each month opens where the last closed,
    and this month closes at the balances held now."""
    owner = owner_actor(bogota.org)
    held_now = {
        None: 1005,
        "system": 605,
        member_ref(bogota.ana).label: 150,
        member_ref(bogota.beto).label: 250,
    }
    for account, held in held_now.items():
        previous = 0
        for month in ("2026-08", "2026-09", "2026-10", "2026-11", "2026-12"):
            statement = statements.month_statement(owner, bogota.org, month, account)
            walked(statement)
            assert statement.balanced, (account, month, statement.difference)
            assert statement.opening == previous
            previous = statement.closing
        assert previous == held
    whole = statements.month_statement(owner, bogota.org, "2026-12")
    walked(whole)
    assert whole.closing == ledger.total_credits(bogota.org) == 1005


def test_a_plain_member_reads_their_own_account_only(bogota):
    beto = member_actor(bogota.beto)
    statement = statements.month_statement(beto, bogota.org, "2026-11")
    lines = walked(statement)
    assert (statement.opening, statement.closing) == (0, 250)
    assert [line.change for line in lines] == [60, 200, -10]
    with pytest.raises(Forbidden):
        statements.month_statement(beto, bogota.org, "2026-11", "system")
    with pytest.raises(Forbidden):
        statements.month_statement(beto, bogota.org, "2026-11", member_ref(bogota.ana).label)


def test_another_tenants_organization_or_account_is_not_found(
    bogota, create_organization, create_member, create_priced_reseller
):
    stranger_org = create_organization(create_priced_reseller(name="Elsewhere"))
    stranger = create_member(stranger_org)
    with pytest.raises(NotFound):
        statements.month_statement(owner_actor(stranger_org), bogota.org, "2026-11")
    with pytest.raises(NotFound):
        statements.month_statement(
            owner_actor(bogota.org), bogota.org, "2026-11", member_ref(stranger).label
        )
    with pytest.raises(NotFound):
        statements.month_statement(owner_actor(bogota.org), bogota.org, "2026-11", "pool")


def test_reseller_staff_read_their_customers_statements(bogota, create_reseller_staff):
    agent = staff_actor(bogota.reseller, bogota.staff)
    statement = statements.month_statement(agent, bogota.org, "2026-11")
    walked(statement)
    assert (statement.opening, statement.closing) == (950, 1000)


@pytest.mark.parametrize(
    "value", [None, "", "2026-13", "26-11", "2026-1", "abc", "1999-12", "x" * 500]
)
def test_a_malformed_month_is_refused(bogota, value):
    with pytest.raises(ValidationFailed) as refused:
        statements.statement_month(bogota.org, value)
    assert "month" in refused.value.fields


def test_a_month_not_started_is_refused_and_this_month_is_to_date(bogota):
    with pytest.raises(ValidationFailed):
        statements.statement_month(bogota.org, "2027-01")
    assert statements.statement_month(bogota.org, "2026-12") == "2026-12"
    before = statements.month_statement(owner_actor(bogota.org), bogota.org, "2020-01")
    assert (before.opening, before.closing, walked(before)) == (0, 0, [])


def test_adjustments_top_ups_and_a_removed_members_credits_keep_the_check(
    bogota, clock, create_member
):
    """This month, more kinds of movement: an adjustment, an automatic top-up, a member's
    own purchase and their credits going back to the pool when they are removed (the
    statement of the removed member's account stays readable)."""
    org = bogota.org
    carla = create_member(org, role="member", name="Carla Cali")
    at(clock, 2026, 12, 3, 13)
    credits.add_credits(SYSTEM, org, SYSTEM_ACCOUNT, 7, entry_type=EntryType.ADJUSTMENT)
    credits.add_credits(SYSTEM, org, SYSTEM_ACCOUNT, 20, entry_type=EntryType.AUTO_TOP_UP)
    credits.add_credits(SYSTEM, org, member_ref(carla), 15)
    commit()
    at(clock, 2026, 12, 3, 14)
    assert remove_member(SYSTEM, org, carla) == 15
    commit()
    owner = owner_actor(org)
    december = statements.month_statement(owner, org, "2026-12")
    lines = list(december.lines())
    assert december.balanced and december.opening == 1000
    assert december.closing == ledger.total_credits(org) == 1005 + 7 + 20 + 15
    assert [line.reference for line in lines][-2:] == ["member-removed", "member-removed"]
    theirs = statements.month_statement(owner, org, "2026-12", member_ref(carla).label)
    assert [line.change for line in theirs.lines()] == [15, -15]
    assert theirs.balanced and theirs.closing == 0


def test_the_queries_do_not_grow_with_the_movements(bogota, clock):
    """Balances in one SELECT, movements streamed: as many statements for 55 movements as
    for 1."""
    from sqlalchemy import event

    from tenants.core.extensions import db

    owner = owner_actor(bogota.org)

    def queries_for(month: str) -> int:
        seen = []

        def count(_conn, _cursor, statement, *_args):
            if not statement.startswith("BEGIN"):  # SQLite's transaction, not a read
                seen.append(statement)

        db.session.expire_all()
        engine = db.engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            statement = statements.month_statement(owner, bogota.org, month)
            list(statement.lines())
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(seen)

    few = queries_for("2026-12")  # one movement so far
    for minute in range(54):
        at(clock, 2026, 12, 2, 6, minute)
        credits.record_usage(
            SYSTEM,
            bogota.org,
            credits=1,
            reference=f"bulk-{minute}",
            account=member_ref(bogota.beto).label,
        )
        commit()
    assert queries_for("2026-12") == few
