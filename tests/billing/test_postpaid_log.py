"""A postpaid organization's Logs tab (SPEC §4 "Postpaid logs"): its usage charges, invoices
and payments, dated when they happened, with the history's filters (type, dates, reference),
a CSV download (the postpaid columns; written by PostgreSQL's COPY or by Python, alike) and
a print report — for those who see the organization's accounts, and nobody else's."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import pytest
from flask_babel import force_locale
from flask_babel import gettext as _

import tenants.credits.movements
from tenants.access.actors import SYSTEM
from tenants.billing import monthly_run
from tenants.billing.log import postpaid_log_query
from tenants.billing.payments import record_payment
from tenants.core.errors import NotPostpaid
from tenants.jobs.outbox import commit
from tests.billing.conftest import use
from tests.conftest import owner_of

POSTPAID_CSV_HEADER = (
    "Date",
    "Type",
    "Credits",
    "Amount",
    "Currency",
    "Reference",
    "Done by",
    "Recorded at",
)


def page(response) -> str:
    return response.get_data(as_text=True)


def rows_of(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def logs_url(org, suffix: str = "") -> str:
    return f"/organizations/{org.id}/logs{suffix}"


@pytest.fixture
def billed(clock, monkeypatch, create_postpaid, create_reseller_staff, reseller):
    """On 27 November 2026 (clock): October's usage reported late (30 October, recorded
    now), today's usage, October's invoice and a payment, in Madrid."""
    monkeypatch.setattr(tenants.credits.movements, "utcnow", lambda: clock.now)
    org = create_postpaid(limit="1000")
    use(org, 200, at=datetime(2026, 10, 30, 9, 0, tzinfo=UTC), reference="sms-oct-30")
    use(org, 40, reference="sms-today")
    invoice = monthly_run.issue_monthly_invoice(org, "2026-10", now=clock.now)
    commit()
    record_payment(SYSTEM, org, "5.00", reference="bank-transfer-1")
    commit()
    return org, invoice, create_reseller_staff(reseller, name="Agent Postpaid")


def test_the_logs_tab_lists_charges_invoices_and_payments(client, auth, billed):
    org, invoice, _staff = billed
    auth.login(owner_of(org).user.email)
    html = page(client.get(logs_url(org)))
    for text in ("sms-oct-30", "sms-today", invoice.number, "bank-transfer-1"):
        assert text in html, text
    assert html.count("<tr data-entry=") == 4
    # What each charged, invoiced or paid; no account or balance columns (always 0).
    assert "€10.00" in html and "€2.00" in html and "€12.10" in html and "€5.00" in html
    assert ">Balance after</th>" not in html and ">Account</th>" not in html
    # Late usage under the day it happened, with the recording time beside it.
    row = re.search(r'<tr data-entry="[^"]+">(?:(?!</tr>).)*sms-oct-30', html, re.S).group(0)
    assert "Oct 30, 2026" in row and "Recorded Nov 27, 2026" in row
    assert 'id="download-csv"' in html and 'id="print-report-link"' in html
    assert "This organization is postpaid: it has no credits." in html

    payments = page(client.get(logs_url(org, "?type=payment")))
    assert payments.count("<tr data-entry=") == 1 and "bank-transfer-1" in payments
    october = page(client.get(logs_url(org, "?date_from=2026-10-30&date_to=2026-10-30")))
    assert october.count("<tr data-entry=") == 1 and "sms-oct-30" in october
    searched = page(client.get(logs_url(org, "?q=BANK")))
    assert searched.count("<tr data-entry=") == 1
    assert "No movements found." in page(client.get(logs_url(org, "?type=purchase")))
    # Bad input is an error next to the field or ignored, never a 500.
    for query in ("?date_from=nope", "?cursor=garbage", "?type=bogus", "?date_to=0001-01-01"):
        response = client.get(logs_url(org, query))
        assert response.status_code == 200, query
        assert page(response).count("<tr data-entry=") == 4, query


def test_the_postpaid_csv_follows_the_filters_in_the_readers_language(client, auth, billed):
    org, invoice, _staff = billed
    owner = owner_of(org).user
    owner.language = None  # no saved language: the browser's Accept-Language decides
    commit()
    auth.login(owner.email)
    response = client.get(logs_url(org, ".csv"))
    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    rows = rows_of(response)
    assert tuple(rows[0]) == POSTPAID_CSV_HEADER
    by_reference = {row[5]: row for row in rows[1:]}
    assert set(by_reference) == {"sms-oct-30", "sms-today", invoice.number, "bank-transfer-1"}
    late = by_reference["sms-oct-30"]
    assert late[:5] == ["2026-10-30T10:00:00+01:00", "Usage", "-200", "10.00", "EUR"]
    assert late[-1] == "2026-11-27T13:00:00+01:00"
    assert by_reference["bank-transfer-1"][3] == "5.00"
    assert by_reference["bank-transfer-1"][-1] == ""

    only_invoices = rows_of(client.get(logs_url(org, ".csv?type=invoice")))
    assert [row[5] for row in only_invoices[1:]] == [invoice.number]
    october = rows_of(client.get(logs_url(org, ".csv?date_from=2026-10-01&date_to=2026-10-31")))
    assert [row[5] for row in october[1:]] == ["sms-oct-30"]

    assert "postpaid-log-" in response.headers["Content-Disposition"]
    in_spanish = client.get(logs_url(org, ".csv"), headers={"Accept-Language": "es"})
    assert 'filename="registro-pospago-' in in_spanish.headers["Content-Disposition"]
    spanish = rows_of(in_spanish)
    with force_locale("es"):
        assert tuple(spanish[0]) == tuple(_(h) for h in POSTPAID_CSV_HEADER)
        assert _("Usage") in {row[1] for row in spanish[1:]}
    assert spanish[0][-1] == "Registrado el"


def test_the_print_report_has_the_same_rows_and_no_navigation(client, auth, billed):
    org, invoice, _staff = billed
    auth.login(owner_of(org).user.email)
    printed = page(client.get(logs_url(org, "/print?type=usage")))
    assert "sms-oct-30" in printed and "sms-today" in printed
    assert invoice.number not in printed and "bank-transfer-1" not in printed
    assert "<nav" not in printed and 'id="print-report"' in printed
    assert ">Balance after</th>" not in printed and ">Account</th>" not in printed
    assert printed.count('data-field="recorded-at"') == 1
    dated = page(client.get(logs_url(org, "/print?date_from=2026-10-01&date_to=2026-10-31")))
    assert "From Oct 1, 2026 to Oct 31, 2026." in dated and "sms-oct-30" in dated


def test_the_logs_tab_is_spanish_too(client, auth, billed):
    org, _invoice, _staff = billed
    owner = owner_of(org).user
    owner.language = "es"
    commit()
    auth.login(owner.email)
    html = page(client.get(logs_url(org)))
    assert "Movimientos de los últimos 30 días" in html
    assert "Aquí se listan sus cargos por uso, facturas y pagos" in html
    assert "Registrado el 27 nov 2026" in html


def test_reseller_staff_read_it_and_other_tenants_get_404(
    client, auth, billed, create_priced_reseller, create_reseller_staff
):
    org, invoice, staff = billed
    auth.login(staff.email)
    assert invoice.number in page(client.get(logs_url(org)))
    assert len(rows_of(client.get(logs_url(org, ".csv")))) == 5
    auth.logout()

    other = create_priced_reseller(name="Other Telecom")
    outsider = create_reseller_staff(other, name="Outsider")
    auth.login(outsider.email)
    for suffix in ("", ".csv", "/print"):
        assert client.get(logs_url(org, suffix)).status_code == 404, suffix


def test_a_plain_member_is_told_who_manages_the_charges(client, auth, billed, create_member):
    org, invoice, _staff = billed
    member = create_member(org, role="member", name="Mia Member")
    auth.login(member.user.email)
    html = page(client.get(logs_url(org)))
    assert "managed by its administrators" in html
    assert invoice.number not in html and 'id="download-csv"' not in html
    assert len(rows_of(client.get(logs_url(org, ".csv")))) == 1  # the header only


def test_a_prepaid_organization_keeps_its_credits_log(client, auth, create_organization, reseller):
    prepaid = create_organization(reseller, name="Prepaid Co")
    auth.login(owner_of(prepaid).user.email)
    for suffix, target in (("", "log"), (".csv", "log.csv"), ("/print", "log/print")):
        response = client.get(logs_url(prepaid, suffix))
        assert response.status_code == 302
        assert response.headers["Location"].endswith(f"/credits/{target}")
    with pytest.raises(NotPostpaid):
        postpaid_log_query(SYSTEM, prepaid)
