"""Reading the ledger: scoped movements, keyset pages, the reseller-wide log, the chart."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

import tenants.credits.ledger
import tenants.credits.operations
from tenants.access.actors import SYSTEM
from tenants.core.errors import Forbidden, ValidationFailed
from tenants.core.types import utcnow
from tenants.credits import chart, export_rows, movements
from tenants.credits import operations as credits
from tenants.credits.accounts import account_name
from tenants.credits.export import csv_cell
from tenants.jobs.outbox import commit
from tenants.models import AccountKind
from tests.conftest import member_actor, staff_actor
from tests.credits.conftest import fund, member_account


def test_keyset_pages_cover_every_movement_once_even_with_equal_times(shop):
    fund(shop.org, 100)
    for _ in range(7):  # each transfer: two postings with the same created_at
        credits.transfer_credits(
            SYSTEM, shop.org, "system", member_account(shop.member), 1, agreed=True
        )
        commit()
    admin = member_actor(shop.admin)
    seen, cursor = [], None
    while True:
        entries, cursor = movements.list_movements(admin, shop.org, limit=4, cursor=cursor)
        seen.extend(e.id for e in entries)
        if cursor is None:
            break
    assert len(seen) == 15 == len(set(seen))
    everything = [
        e.id
        for e in movements.page_of(movements.movements_query(admin, shop.org), limit=100).entries
    ]
    assert seen == everything

    # Walking back with the "newer" cursors returns the same pages.
    first = movements.page_of(movements.movements_query(admin, shop.org), limit=4)
    second = movements.page_of(
        movements.movements_query(admin, shop.org), limit=4, cursor=first.older_cursor
    )
    back = movements.page_of(
        movements.movements_query(admin, shop.org), limit=4, cursor=second.newer_cursor
    )
    assert [e.id for e in back.entries] == [e.id for e in first.entries]
    assert back.newer_cursor is None


def test_bad_cursors_are_validation_errors(shop):
    for cursor in ("garbage", "eyJ4Ijog", "WyJzaWRld2F5cyIsICIyMDIwIiwgMV0"):
        with pytest.raises(ValidationFailed):
            movements.list_movements(SYSTEM, shop.org, cursor=cursor)


def test_a_member_reads_only_their_own_account(shop):
    fund(shop.org, 50, reference="pool")
    fund(shop.org, 5, account=member_account(shop.member), reference="mine")
    fund(shop.org, 6, account=member_account(shop.other), reference="theirs")
    mel = member_actor(shop.member)
    entries, _ = movements.list_movements(mel, shop.org)
    assert [e.reference for e in entries] == ["mine"]
    for account in ("system", member_account(shop.other)):
        with pytest.raises(Forbidden):
            movements.movements_query(mel, shop.org, account=account)
    rows = list(export_rows.iter_organization_rows(mel, shop.org))
    assert [r.reference for r in rows] == ["mine"]
    assert rows[0].member_name == "Mel Member"


def test_filters_by_type_reference_and_time(shop):
    fund(shop.org, 10, reference="Invoice-ABC_1")
    admin = member_actor(shop.admin)
    assert len(movements.list_movements(admin, shop.org, types=["purchase"])[0]) == 1
    assert movements.list_movements(admin, shop.org, types=["usage"])[0] == []
    assert len(movements.list_movements(admin, shop.org, q="abc_")[0]) == 1
    assert movements.list_movements(admin, shop.org, q="abc%")[0] == []
    assert movements.list_movements(admin, shop.org, since=utcnow() + timedelta(minutes=1))[0] == []
    assert (
        len(movements.list_movements(admin, shop.org, until=utcnow() + timedelta(minutes=1))[0])
        == 1
    )
    with pytest.raises(ValidationFailed):
        movements.movements_query(admin, shop.org, types=["nonsense"])


def test_reseller_wide_log_is_limited_to_the_resellers_customers(shop, other_reseller):
    fund(shop.org, 10, reference="a")
    fund(other_reseller.org, 20, reference="b")
    staff = staff_actor(shop.reseller, shop.staff)
    rows = list(export_rows.iter_reseller_rows(staff, since=movements.last_days()))
    assert [r.reference for r in rows] == ["a"] and rows[0].organization_name == "Acme"
    with pytest.raises(Forbidden):
        movements.reseller_movements_query(member_actor(shop.owner))


def test_another_tenants_organization_is_not_found(shop, other_reseller):
    from tenants.core.errors import NotFound

    with pytest.raises(NotFound):
        movements.movements_query(staff_actor(shop.reseller, shop.staff), other_reseller.org)


def test_daily_series_reconstructs_closing_balances_and_usage(shop, monkeypatch):
    real_now = utcnow()
    monkeypatch.setattr(tenants.credits.ledger, "utcnow", lambda: real_now - timedelta(days=5))
    fund(shop.org, 100)
    monkeypatch.setattr(tenants.credits.ledger, "utcnow", lambda: real_now - timedelta(days=40))
    fund(shop.org, 1000)  # before the window: part of the opening balance
    monkeypatch.undo()
    credits.transfer_credits(
        SYSTEM, shop.org, "system", member_account(shop.member), 40, agreed=True
    )
    credits.record_usage(
        SYSTEM, shop.org, credits=15, reference="sms", account=member_account(shop.member)
    )
    commit()

    series = chart.daily_series(shop.org)
    assert len(series) == 30
    assert series[0].balance == 1000
    assert series[-1].balance == 1000 + 100 - 40
    assert series[-1].usage == 15
    assert series[-7].balance == 1000 and series[-5].balance == 1100
    assert sum(p.usage for p in series) == 15


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=cmd()", "'=cmd()"),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("plain", "plain"),
        (-5, -5),
    ],
)
def test_csv_cells_never_start_a_formula(value, cell):
    assert csv_cell(value) == cell


def test_reseller_log_print_lists_every_customer_in_its_own_timezone(
    client, auth, create_reseller, create_reseller_staff, create_organization
):
    from zoneinfo import ZoneInfo

    from babel.dates import format_datetime

    from tenants.access.actors import SYSTEM
    from tenants.core.extensions import db
    from tenants.credits import operations as ledger
    from tenants.jobs.outbox import commit
    from tenants.models import LedgerEntry

    reseller = create_reseller()
    madrid = create_organization(reseller=reseller, name="Madrid Org", country="ES")
    mexico = create_organization(reseller=reseller, name="Mexico Org", country="MX")
    elsewhere = create_organization(name="Other Reseller Org")
    for org in (madrid, mexico, elsewhere):
        ledger.add_credits(SYSTEM, org, ledger.SYSTEM_ACCOUNT, 10)
    commit()
    mexico_time = db.session.scalar(
        sa.select(LedgerEntry.created_at).where(
            LedgerEntry.organization_id == mexico.id, LedgerEntry.balance_after.is_not(None)
        )
    )
    staff = create_reseller_staff(reseller)
    auth.login(staff.email)
    page = client.get("/credits/reseller-log/print")
    assert page.status_code == 200
    assert "Madrid Org" in page.text and "Mexico Org" in page.text
    assert "Other Reseller Org" not in page.text
    assert 'class="navbar' not in page.text
    expected = format_datetime(
        mexico_time, "medium", tzinfo=ZoneInfo("America/Mexico_City"), locale="en"
    )
    assert expected in page.text


def test_a_page_names_its_members_doers_and_organizations(shop):
    fund(shop.org, 100)
    credits.transfer_credits(
        member_actor(shop.admin), shop.org, "system", member_account(shop.member), 5, agreed=True
    )
    commit()
    entries = movements.page_of(movements.movements_query(SYSTEM, shop.org), limit=10).entries
    names = movements.entry_names(entries)
    assert names["members"] == {shop.member.id: "Mel Member"}
    assert names["users"] == {shop.admin.user_id: "Ada Admin"}
    assert names["orgs"] == {shop.org.id: "Acme"}
    assert movements.entry_names(entries, shop.org)["orgs"] == {}


def test_accounts_read_as_the_system_pool_or_a_members_credits(shop):
    assert movements.account_label(AccountKind.SYSTEM) == "System Credits"
    assert movements.account_label(AccountKind.MEMBER, "Mel") == "User Credits: Mel"
    assert account_name(shop.org, "system") == "System Credits"
    assert account_name(shop.org, member_account(shop.member)) == "User Credits: Mel Member"
    assert account_name(shop.org, "member:gone") == "User Credits: gone"
