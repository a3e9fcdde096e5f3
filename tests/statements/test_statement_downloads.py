"""Statements from the Logs tab: the month picker, the PDF and the CSV, in English and
Spanish; another tenant's organization or account is a 404, a plain member reads their own
account only, and a bad month is a localized 422, never a 500."""

from __future__ import annotations

import csv
import io

import pytest
from pypdf import PdfReader

from tenants.jobs.outbox import commit
from tests.conftest import owner_of
from tests.statements.conftest import member_ref


def login(client, auth, member, language="en"):
    member.user.language = language
    commit()
    auth.login(member.user.email)


def pdf_text(response) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/pdf"
    pages = PdfReader(io.BytesIO(response.data)).pages
    return " ".join(page.extract_text() for page in pages)


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def url(org, kind, **args) -> str:
    query = "&".join(f"{k}={v}" for k, v in args.items())
    return f"/organizations/{org.id}/logs/statement.{kind}?{query}"


def test_the_logs_tab_offers_the_statement(client, auth, bogota):
    login(client, auth, bogota.owner)
    page = client.get(f"/organizations/{bogota.org.id}/credits/log")
    html = page.get_data(as_text=True)
    assert 'data-section="statement"' in html
    assert "Statement (PDF)" in html and "Statement (CSV)" in html
    assert 'value="2026-11"' in html and 'max="2026-12"' in html
    assert "Ana Antioquia" in html  # the account picker


def test_the_pdf_has_the_figures_in_english(client, auth, bogota):
    login(client, auth, bogota.owner)
    text = pdf_text(client.get(url(bogota.org, "pdf", month="2026-11")))
    assert "Credits statement" in text and "November 2026" in text
    assert "Café Bogotá" in text and "America/Bogota" in text
    assert "Opening balance" in text and "950" in text
    assert "Closing balance" in text and "1,000" in text
    assert "Withdrawal" in text and "Transfer in" in text and "Beto" in text
    assert "Checked: opening balance + movements = closing balance." in text


def test_the_pdf_reads_in_spanish(client, auth, bogota):
    login(client, auth, bogota.owner, language="es")
    response = client.get(url(bogota.org, "pdf", month="2026-11"))
    text = pdf_text(response)
    assert "noviembre de 2026" in text
    assert "Balance inicial" in text and "Balance final" in text and "1.000" in text
    assert "Retiro" in text and "Transferencia recibida" in text
    assert "Comprobado" in text
    assert "estado-de-cuenta" in response.headers["Content-Disposition"]


def test_one_accounts_pdf(client, auth, bogota):
    login(client, auth, bogota.owner)
    account = member_ref(bogota.ana).label
    text = pdf_text(client.get(url(bogota.org, "pdf", month="2026-11", account=account)))
    assert "User Credits: Ana Antioquia" in text
    assert "250" in text and "150" in text


def test_the_csv_lists_every_movement_and_the_check(client, auth, bogota):
    login(client, auth, bogota.owner)
    rows = csv_rows(client.get(url(bogota.org, "csv", month="2026-11")))
    assert rows[0] == ["Date", "Type", "Account", "Reference", "Credits", "Balance"]
    assert rows[1][1:] == ["Opening balance", "", "", "", "950"]
    movements = rows[2:-2]
    transfer = sorted((r[1], r[4]) for r in movements[2:4])
    assert transfer == [("Transfer in", "60"), ("Transfer out", "-60")]
    assert [(r[1], r[4], r[5]) for r in movements[:2] + movements[3:]] == [
        ("Usage", "-40", "910"),
        ("Withdrawal", "-100", "810"),
        (movements[3][1], movements[3][4], "810"),
        ("Purchase", "200", "1010"),
        ("Usage", "-10", "1000"),
    ]
    assert movements[0][0] == "2026-11-01T01:00:00-05:00"  # Bogotá time
    assert movements[1][3] == '\'=HYPERLINK("x")'  # a formula is never run
    assert rows[-2][1:] == ["Closing balance", "", "", "", "1000"]
    assert rows[-1][1:3] == ["Check", "Checked: opening balance + movements = closing balance."]


def test_the_csv_in_spanish(client, auth, bogota):
    login(client, auth, bogota.owner, language="es")
    rows = csv_rows(client.get(url(bogota.org, "csv", month="2026-10")))
    assert rows[0][:2] == ["Fecha", "Tipo de registro"]
    assert rows[1][1] == "Balance inicial" and rows[-2][1] == "Balance final"


def test_the_postpaid_statement(client, auth, madrid):
    login(client, auth, madrid.owner)
    rows = csv_rows(client.get(url(madrid.org, "csv", month="2026-11")))
    assert rows[0] == [
        "Date",
        "Type",
        "Reference",
        "Credits",
        "Amount",
        "Tax",
        "Debt change",
        "Debt",
    ]
    assert rows[1][1] == "Opening debt" and rows[1][-1] == "8.0465"
    assert [(r[1], r[6], r[7]) for r in rows[2:-2]] == [
        ("Invoice", "0.0035", "8.05"),
        ("Usage", "0.605", "8.655"),
        ("Payment", "-5.00", "3.655"),
        ("Payment", "-2.00", "1.655"),
        ("Payment voided", "2.00", "3.655"),
    ]
    assert rows[-2][1] == "Closing debt" and rows[-2][-1] == "3.655"
    text = pdf_text(client.get(url(madrid.org, "pdf", month="2026-11")))
    assert "Debt statement" in text and "Opening debt" in text and "Closing debt" in text
    assert "€8.0465" in text and "€3.655" in text and "€6.65" in text and "€1.40" in text
    assert "Checked: opening debt + movements = closing debt." in text


def test_the_postpaid_pdf_in_spanish(client, auth, madrid):
    login(client, auth, madrid.owner, language="es")
    text = pdf_text(client.get(url(madrid.org, "pdf", month="2026-11")))
    assert "Deuda inicial" in text and "Deuda final" in text
    assert "3,655" in text and "Factura" in text


def test_another_tenant_gets_404(client, auth, bogota, create_organization, create_member):
    stranger_org = create_organization(bogota.reseller, name="Otra")
    login(client, auth, owner_of(stranger_org))
    for kind in ("pdf", "csv"):
        assert client.get(url(bogota.org, kind, month="2026-11")).status_code == 404
    # An account of another organization named on one's own is a 404 too.
    auth.logout()
    login(client, auth, bogota.owner)
    stranger = create_member(stranger_org)
    response = client.get(
        url(bogota.org, "csv", month="2026-11", account=member_ref(stranger).label)
    )
    assert response.status_code == 404


def test_a_plain_member_reads_their_own_account(client, auth, bogota):
    login(client, auth, bogota.beto)
    rows = csv_rows(client.get(url(bogota.org, "csv", month="2026-11")))
    assert {r[2] for r in rows[2:-2]} == {"User Credits: Beto Bolívar"}
    assert rows[-2][-1] == "250"
    response = client.get(url(bogota.org, "csv", month="2026-11", account="system"))
    assert response.status_code == 403
    page = client.get(f"/organizations/{bogota.org.id}/credits/log").get_data(as_text=True)
    assert "Statement (PDF)" in page and 'id="statement-account"' not in page


def test_a_plain_member_of_a_postpaid_organization_gets_none(client, auth, madrid, create_member):
    member = create_member(madrid.org, role="member")
    login(client, auth, member)
    assert client.get(url(madrid.org, "pdf", month="2026-11")).status_code == 403


@pytest.mark.parametrize("month", ["", "2026-13", "nov", "2026-11-01", "2027-01"])
@pytest.mark.parametrize("kind", ["pdf", "csv"])
def test_a_bad_month_is_a_localized_422(client, auth, bogota, month, kind):
    login(client, auth, bogota.owner, language="es")
    response = client.get(url(bogota.org, kind, month=month))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "AAAA-MM" in html or "todavía" in html


def test_control_characters_are_refused_before_the_month_is_read(client, auth, bogota):
    login(client, auth, bogota.owner)
    for kind in ("pdf", "csv"):
        assert client.get(url(bogota.org, kind, month="%00")).status_code in (400, 422)


def test_a_missing_month_is_422(client, auth, bogota):
    login(client, auth, bogota.owner)
    response = client.get(f"/organizations/{bogota.org.id}/logs/statement.pdf")
    assert response.status_code == 422
    assert "YYYY-MM" in response.get_data(as_text=True)


def test_a_statement_that_does_not_add_up_says_so(client, auth, bogota, monkeypatch):
    """Were the balances and the movements ever to disagree, the statement says so in
    words, not only in numbers."""
    from tenants.credits import statements as credit_statements

    real = credit_statements._balances

    def off_by_seven(*args):
        opening, closing = real(*args)
        return opening, closing + 7

    monkeypatch.setattr(credit_statements, "_balances", off_by_seven)
    login(client, auth, bogota.owner)
    rows = csv_rows(client.get(url(bogota.org, "csv", month="2026-11")))
    assert rows[-1][2].startswith("CHECK FAILED") and " by 7." in rows[-1][2]
    text = pdf_text(client.get(url(bogota.org, "pdf", month="2026-11")))
    assert "CHECK FAILED" in text and "report it to support" in text


def test_reseller_staff_download_from_the_customers_logs_tab(client, auth, bogota):
    auth.login(bogota.staff.email)
    page = client.get(f"/organizations/{bogota.org.id}/credits/log").get_data(as_text=True)
    assert "Statement (CSV)" in page
    rows = csv_rows(client.get(url(bogota.org, "csv", month="2026-10")))
    assert rows[1][-1] == "0" and rows[-2][-1] == "950"


def test_a_long_month_lists_the_first_movements_and_counts_them_all(
    client, auth, bogota, monkeypatch
):
    monkeypatch.setattr("tenants.billing.statement_files.PDF_LINE_LIMIT", 2)
    login(client, auth, bogota.owner)
    text = pdf_text(client.get(url(bogota.org, "pdf", month="2026-11")))
    assert "4 more movements are counted in the totals above and listed in the CSV." in text
    assert "1,000" in text and "Checked" in text


@pytest.mark.postgres_only
def test_a_movement_recorded_while_the_statement_is_read_leaves_it_balanced(
    app, client, auth, bogota, monkeypatch
):
    """The balances and the streamed movements are read in one snapshot: usage another
    request commits between the two is in neither, and the statement still adds up."""
    import threading

    from tenants.access.actors import SYSTEM
    from tenants.core.extensions import db
    from tenants.credits import operations as credits
    from tenants.credits import statements as credit_statements
    from tenants.models import Organization
    from tests.conftest import new_reference

    org_id, beto = bogota.org.id, member_ref(bogota.beto).label

    failures = []

    def record_elsewhere():
        try:
            with app.app_context():
                org = db.session.get(Organization, org_id)
                credits.record_usage(
                    SYSTEM, org, credits=3, reference=new_reference(), account=beto
                )
                commit()
        except Exception as error:  # seen by the assertion below
            failures.append(error)

    real = credit_statements._movement_lines

    def racing(*args):
        stream = real(*args)

        def lines():
            writer = threading.Thread(target=record_elsewhere)
            writer.start()
            writer.join()
            yield from stream()

        return lines

    monkeypatch.setattr(credit_statements, "_movement_lines", racing)
    login(client, auth, bogota.owner)
    rows = csv_rows(client.get(url(bogota.org, "csv", month="2026-12")))
    assert rows[-2][-1] == "1005"
    assert rows[-1][2] == "Checked: opening balance + movements = closing balance."
    assert failures == []
    db.session.rollback()  # the request's snapshot ends: the usage committed meanwhile shows
    from tenants.credits import ledger

    assert ledger.total_credits(bogota.org) == 1002
