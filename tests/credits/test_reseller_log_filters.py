"""The reseller-wide 30-day log's filters (organization, who, type, dates, reference) as GET
parameters: they narrow the reseller's own customers only, keep keyset pages, and carry
over to the CSV, the print report and the page links."""

from __future__ import annotations

import re
from datetime import timedelta

from tenants.core.types import utcnow
from tenants.credits import operations as credits
from tenants.credits import reseller_log
from tenants.jobs.outbox import commit
from tenants.models import EntryType
from tests.conftest import staff_actor
from tests.credits.conftest import fund

LOG = "/credits/reseller-log"


def adjust(actor, org, amount: int, reference: str) -> None:
    credits.add_credits(
        actor,
        org,
        credits.SYSTEM_ACCOUNT,
        amount,
        entry_type=EntryType.ADJUSTMENT,
        reference=reference,
    )
    commit()


def references(response) -> list[str]:
    text = response.get_data(as_text=True)
    assert response.status_code == 200, text
    return re.findall(r"ref-[a-z0-9-]+", text)


def test_each_filter_narrows_the_log(client, auth, shop, create_organization):
    beta = create_organization(shop.reseller, name="Beta Shop", country="ES")
    fund(shop.org, 100, reference="ref-acme-purchase")
    fund(beta, 200, reference="ref-beta-purchase")
    adjust(staff_actor(shop.reseller, shop.staff), beta, 5, "ref-beta-adjusted")
    auth.login(shop.staff.email)

    assert set(references(client.get(LOG))) == {
        "ref-acme-purchase",
        "ref-beta-purchase",
        "ref-beta-adjusted",
    }
    assert set(references(client.get(LOG, query_string={"organization": "beta"}))) == {
        "ref-beta-purchase",
        "ref-beta-adjusted",
    }
    by_id = client.get(LOG, query_string={"organization": shop.org.id})
    assert set(references(by_id)) == {"ref-acme-purchase"}
    by_person = client.get(LOG, query_string={"person": shop.staff.email.upper()})
    assert set(references(by_person)) == {"ref-beta-adjusted"}
    by_name = client.get(LOG, query_string={"person": "agent a"})
    assert set(references(by_name)) == {"ref-beta-adjusted"}
    by_type = client.get(LOG, query_string={"type": "adjustment"})
    assert set(references(by_type)) == {"ref-beta-adjusted"}
    by_reference = client.get(LOG, query_string={"q": "ACME"})
    assert set(references(by_reference)) == {"ref-acme-purchase"}
    combined = client.get(LOG, query_string={"organization": "beta", "type": "purchase"})
    assert set(references(combined)) == {"ref-beta-purchase"}
    nothing = client.get(LOG, query_string={"organization": "nobody"})
    assert references(nothing) == [] and "No movements found." in nothing.get_data(as_text=True)


def test_dates_narrow_within_the_thirty_days(client, auth, shop, monkeypatch):
    import tenants.credits.ledger

    real_now = utcnow()
    fund(shop.org, 100, reference="ref-today")
    for reference, days in (("ref-ten-days-ago", 10), ("ref-forty-days-ago", 40)):
        # Ledger rows are immutable: they are written as if it were then.
        monkeypatch.setattr(
            tenants.credits.ledger, "utcnow", lambda d=days: real_now - timedelta(days=d)
        )
        fund(shop.org, 50, reference=reference)
    monkeypatch.undo()
    auth.login(shop.staff.email)
    today = utcnow().date()
    old = {"date_from": (today - timedelta(days=60)).isoformat()}
    # The log is the last 30 days, whatever the start date asks.
    assert set(references(client.get(LOG, query_string=old))) == {"ref-today", "ref-ten-days-ago"}
    until = {"date_to": (today - timedelta(days=5)).isoformat()}
    assert set(references(client.get(LOG, query_string=until))) == {"ref-ten-days-ago"}
    since = {"date_from": (today - timedelta(days=1)).isoformat()}
    assert set(references(client.get(LOG, query_string=since))) == {"ref-today"}


def test_bad_filters_are_explained_never_a_500(client, auth, shop):
    fund(shop.org, 100, reference="ref-kept")
    auth.login(shop.staff.email)
    for query in (
        {"date_from": "2026-13-45"},
        {"date_from": "2026-11-10", "date_to": "2026-11-01"},
        {"type": "nonsense"},
        {"organization": "%_\\" * 40, "person": "'; drop table users; --"},
        {"person": "@"},
        {"cursor": "garbage"},
    ):
        response = client.get(LOG, query_string=query)
        assert response.status_code == 200, query
    wrong_order = client.get(LOG, query_string={"date_from": "2026-11-10", "date_to": "2026-11-01"})
    assert "The end date is before the start date." in wrong_order.get_data(as_text=True)


def test_pages_csv_and_print_keep_the_filters(client, auth, shop, create_organization, monkeypatch):
    from reseller.credits import views

    monkeypatch.setattr(views, "LOG_PAGE_SIZE", 2)
    beta = create_organization(shop.reseller, name="Beta Shop", country="ES")
    for n in range(5):
        fund(shop.org, 10 + n, reference=f"ref-acme-{n}")
        fund(beta, 20 + n, reference=f"ref-beta-{n}")
    auth.login(shop.staff.email)

    seen, url, pages = [], f"{LOG}?organization=Beta", 0
    while url:
        response = client.get(url)
        seen += references(response)
        pages += 1
        older = re.search(r'rel="next" href="([^"]+)"', response.get_data(as_text=True))
        url = older.group(1).replace("&amp;", "&") if older else None
        assert url is None or ("organization=Beta" in url and "cursor=" in url)
    assert seen == [f"ref-beta-{n}" for n in reversed(range(5))] and pages == 3

    csv_text = client.get(f"{LOG}.csv?organization=Beta&type=purchase").get_data(as_text=True)
    assert "ref-beta-0" in csv_text and "ref-acme-0" not in csv_text
    printed = client.get(f"{LOG}/print?organization=Beta").get_data(as_text=True)
    assert "ref-beta-4" in printed and "ref-acme-4" not in printed
    page = client.get(f"{LOG}?organization=Beta").get_data(as_text=True)
    assert "/credits/reseller-log.csv?organization=Beta" in page
    assert "/credits/reseller-log/print?organization=Beta" in page


def test_filters_never_reach_another_resellers_customers(client, auth, shop, other_reseller):
    fund(other_reseller.org, 100, reference="ref-bravo-secret")
    fund(shop.org, 100, reference="ref-acme-own")
    auth.login(shop.staff.email)
    for query in (
        {"organization": other_reseller.org.id},
        {"organization": "Bravo"},
        {"person": other_reseller.staff.email},
        {"q": "bravo"},
    ):
        assert "ref-bravo-secret" not in references(client.get(LOG, query_string=query))
    staff = staff_actor(shop.reseller, shop.staff)
    filters = reseller_log.LogFilters(organization=other_reseller.org.id)
    assert list(reseller_log.iter_reseller_log_rows(staff, filters)) == []
    own = reseller_log.iter_reseller_log_rows(staff)
    assert [row.reference for row in own] == ["ref-acme-own"]
