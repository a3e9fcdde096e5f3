"""Movements are dated when they happened (SPEC §4, ``occurred_at``), not when they were
recorded: usage a sending platform reports late lists under its own day, date filters find
it there, the 30-day log and chart count it there, the CSV (Python and PostgreSQL's COPY
alike) and the API date it so, and the recording time is shown beside it."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest

import tenants.credits.ledger
import tenants.credits.movements
import tenants.credits.operations
from tenants.access.actors import SYSTEM
from tenants.api_keys.operations import create_api_key
from tenants.core.types import utcnow
from tenants.credits import chart, export_rows, movements, reseller_log
from tenants.credits import operations as credits
from tenants.jobs.outbox import commit
from tests.conftest import member_actor, staff_actor
from tests.credits.conftest import MOVEMENTS_CSV_HEADER, credits_url, fund, member_account


def page(response) -> str:
    return response.get_data(as_text=True)


def rows_of(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def late_usage(org, member, credits_used: int, occurred: datetime, reference: str):
    entry = credits.record_usage(
        SYSTEM,
        org,
        credits=credits_used,
        reference=reference,
        account=member_account(member),
        occurred_at=occurred,
    ).entry
    commit()
    return entry


@pytest.fixture
def frozen(monkeypatch, shop):
    """The issue's calendar: it is 3 December 2026, 10:00 UTC (11:00 in Madrid, Acme's
    timezone); usage of 1 and 20 November is reported now."""
    now = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    for module in (tenants.credits.ledger, tenants.credits.operations, tenants.credits.movements):
        monkeypatch.setattr(module, "utcnow", lambda: now)
    fund(shop.org, 50, account=member_account(shop.member), reference="funded")
    late_usage(shop.org, shop.member, 4, datetime(2026, 11, 1, 12, 0, tzinfo=UTC), "sms-nov-01")
    late_usage(shop.org, shop.member, 6, datetime(2026, 11, 20, 9, 30, tzinfo=UTC), "sms-nov-20")
    return shop


def test_usage_reported_late_lists_under_the_day_it_happened(client, auth, frozen):
    shop = frozen
    auth.login(shop.owner.user.email)
    history = page(client.get(credits_url(shop.org, "")))
    # Latest to happen first: the purchase of today, then 20 November, then 1 November.
    order = re.findall(r"(funded|sms-nov-\d\d)", history)
    assert order == ["funded", "sms-nov-20", "sms-nov-01"]
    row = re.search(r'<tr data-entry="[^"]+">(?:(?!</tr>).)*sms-nov-20', history, re.S).group(0)
    assert 'datetime="2026-11-20T09:30:00+00:00"' in row
    assert "Nov 20, 2026" in row and "10:30:00" in row  # Madrid time
    assert 'data-field="recorded-at">Recorded Dec 3, 2026, 11:00:00' in row
    funded = re.search(r'<tr data-entry="[^"]+">(?:(?!</tr>).)*funded', history, re.S).group(0)
    assert "recorded-at" not in funded  # recorded when it happened: one date only

    first_days = page(client.get(credits_url(shop.org, "?date_from=2026-11-01&date_to=2026-11-02")))
    assert "sms-nov-01" in first_days
    assert "sms-nov-20" not in first_days and "funded" not in first_days
    twentieth = page(client.get(credits_url(shop.org, "?date_from=2026-11-20&date_to=2026-11-20")))
    assert "sms-nov-20" in twentieth and "sms-nov-01" not in twentieth
    today = page(client.get(credits_url(shop.org, "?date_from=2026-12-03&date_to=2026-12-03")))
    assert "funded" in today and "sms-nov" not in today


def test_the_history_is_spanish_too(client, auth, frozen):
    shop = frozen
    shop.owner.user.language = "es"
    commit()
    auth.login(shop.owner.user.email)
    history = page(client.get(credits_url(shop.org, "?date_from=2026-11-20&date_to=2026-11-20")))
    assert "Registrado el 3 dic 2026, 11:00:00" in history


def test_the_service_filters_and_pages_by_occurred_at(frozen):
    shop = frozen
    admin = member_actor(shop.admin)
    november = movements.list_movements(
        admin,
        shop.org,
        since=datetime(2026, 11, 1, tzinfo=UTC),
        until=datetime(2026, 12, 1, tzinfo=UTC),
    )[0]
    assert [e.reference for e in november] == ["sms-nov-20", "sms-nov-01"]
    # Keyset pages walk the same order, one entry a page.
    seen, cursor = [], None
    while True:
        entries, cursor = movements.list_movements(admin, shop.org, limit=1, cursor=cursor)
        seen += [e.reference for e in entries]
        if cursor is None:
            break
    assert seen == ["funded", "sms-nov-20", "sms-nov-01"]


def test_the_csv_dates_by_occurred_at_and_adds_the_recording_time(client, auth, frozen):
    shop = frozen
    auth.login(shop.owner.user.email)
    rows = rows_of(client.get(credits_url(shop.org, "log.csv")))
    assert tuple(rows[0]) == MOVEMENTS_CSV_HEADER
    by_reference = {row[7]: row for row in rows[1:]}
    assert by_reference["sms-nov-20"][0] == "2026-11-20T10:30:00+01:00"
    assert by_reference["sms-nov-20"][-1] == "2026-12-03T11:00:00+01:00"
    assert by_reference["funded"][0] == "2026-12-03T11:00:00+01:00"
    assert by_reference["funded"][-1] == ""
    # The last 30 days from 3 December: 1 November is before them, whenever it was recorded.
    assert [row[7] for row in rows[1:]] == ["funded", "sms-nov-20"]


def test_the_api_filters_movements_by_occurred_at(client, frozen):
    shop = frozen
    _key, secret = create_api_key(SYSTEM, reseller=shop.reseller, name="sync")
    commit()
    headers = {"Authorization": f"Bearer {secret}"}
    query = {"since": "2026-11-01T00:00:00Z", "until": "2026-11-03T00:00:00Z"}
    url = f"/api/v1/organizations/{shop.org.id}/movements"
    listed = client.get(url, headers=headers, query_string=query)
    assert listed.status_code == 200, listed.get_data(as_text=True)
    assert [e["reference"] for e in listed.json["data"]] == ["sms-nov-01"]
    entry = listed.json["data"][0]
    assert entry["occurred_at"].startswith("2026-11-01T12:00")
    assert entry["created_at"].startswith("2026-12-03T10:00")
    downloaded = client.get(url + ".csv", headers=headers, query_string=query)
    assert [row[7] for row in rows_of(downloaded)[1:]] == ["sms-nov-01"]
    everything = json.loads(client.get(url, headers=headers).get_data())["data"]
    assert [e["reference"] for e in everything] == ["funded", "sms-nov-20", "sms-nov-01"]


def test_the_30_day_log_chart_and_reseller_log_count_when_it_happened(client, auth, shop):
    """Relative to now: usage of 32 days ago reported today is not in the last 30 days."""
    now = utcnow()
    fund(shop.org, 50, account=member_account(shop.member), reference="funded")
    late_usage(shop.org, shop.member, 3, now - timedelta(days=32), "sms-32-days-ago")
    late_usage(shop.org, shop.member, 5, now - timedelta(days=12), "sms-12-days-ago")
    auth.login(shop.owner.user.email)

    log = page(client.get(credits_url(shop.org, "log")))
    assert "sms-12-days-ago" in log and "sms-32-days-ago" not in log
    csv_refs = [row[7] for row in rows_of(client.get(credits_url(shop.org, "log.csv")))[1:]]
    assert csv_refs == ["funded", "sms-12-days-ago"]
    printed = page(client.get(credits_url(shop.org, "log/print")))
    assert "sms-12-days-ago" in printed and "sms-32-days-ago" not in printed
    assert printed.count('data-field="recorded-at"') == 1

    series = chart.daily_series(shop.org)
    assert sum(p.usage for p in series) == 5
    assert sum(p.usage for p in series[-14:-11]) == 5  # its local day, not today's
    assert series[-1].usage == 0

    staff = staff_actor(shop.reseller, shop.staff)
    logged = list(export_rows.iter_movement_rows(reseller_log.reseller_log_query(staff)))
    assert [r.reference for r in logged] == ["funded", "sms-12-days-ago"]
