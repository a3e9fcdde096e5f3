"""An organization's section tabs are real: Payment is the credits page (or the postpaid
account), Logs the last 30 days log, Invoices the list of invoices and receipts with their
detail and PDF; the seven tabs stay on every page, each for those allowed to open it."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from pypdf import PdfReader

from tenants.access.actors import SYSTEM, Actor
from tenants.core.types import utcnow
from tenants.credits import purchases
from tenants.invoices import documents as invoices
from tenants.jobs.outbox import commit
from tenants.models import InvoiceItem, InvoiceKind, ResellerRole
from tests.conftest import member_actor, owner_actor, owner_of
from tests.credits.conftest import CREDIT_PRICE, fund

GOOD_CARD = "4242 4242 4242 4242"
ALL_TABS = (
    "overview",
    "members",
    "messages",
    "contacts",
    "campaigns",
    "payment",
    "settings",
    "logs",
    "invoices",
    "audit",
)
TAB_PATHS = {
    "overview": "/organizations/{id}/",
    "members": "/organizations/{id}/members/",
    "messages": "/organizations/{id}/messages/send",
    "contacts": "/organizations/{id}/contacts/",
    "campaigns": "/organizations/{id}/campaigns/",
    "payment": "/organizations/{id}/payment",
    "settings": "/organizations/{id}/settings",
    "logs": "/organizations/{id}/logs",
    "invoices": "/organizations/{id}/invoices",
    "audit": "/organizations/{id}/audit",
}


@pytest.fixture
def acme(create_priced_reseller, create_reseller_staff, create_organization, create_member):
    """A priced reseller (EUR, 21 % tax in Spain) with a prepaid and a postpaid customer."""
    reseller = create_priced_reseller(name="Alpha Telecom", postpaid=CREDIT_PRICE)
    org = create_organization(reseller, name="Acme", country="ES")
    org.billing_name = "Acme Billing SL"
    org.billing_tax_id = "B12345678"
    commit()
    postpaid = create_organization(
        reseller, name="Later Pay", country="ES", pricing_model="postpaid"
    )
    postpaid.credit_limit = Decimal("500")
    commit()
    return SimpleNamespace(
        reseller=reseller,
        staff=create_reseller_staff(reseller, role=ResellerRole.AGENT, name="Agent Smith"),
        org=org,
        owner=owner_of(org),
        admin=create_member(org, role="admin", name="Ada Admin"),
        member=create_member(org, role="member", name="Mel Member"),
        postpaid=postpaid,
        postpaid_owner=owner_of(postpaid),
    )


def buy(org, credit_count: int = 1000):
    """A paid sandbox purchase: credits applied and a tax invoice / receipt issued."""
    actor = owner_actor(org)
    purchase = purchases.start_purchase(
        actor, org, credit_count=credit_count, account="system", payment_method="sandbox"
    )
    commit()
    purchases.pay(actor, purchase, {"card_number": GOOD_CARD})
    commit()
    return purchase.receipt


def monthly_invoice(org, period: str = "2026-10", issued_at=None):
    invoice = invoices.issue_invoice(
        org,
        kind=InvoiceKind.INVOICE,
        lines=[
            {
                "item": InvoiceItem.SMS_USAGE,
                "item_date": date(2026, 10, 1),
                "quantity": 2000,
                "unit_price": Decimal("0.05"),
            }
        ],
        tax_percent=Decimal("21"),
        billing=invoices.billing_snapshot(org),
        language="en",
        period=period,
        issued_at=issued_at,
    )
    commit()
    return invoice


def text(response) -> str:
    return response.get_data(as_text=True)


def tabs(html: str, org) -> dict[str, bool]:
    """The section tabs shown: key → whether it is the highlighted one."""
    match = re.search(r'<ul class="nav nav-tabs[^"]*" aria-label="[^"]*">(.*?)</ul>', html, re.S)
    assert match, "no section tabs"
    html, found = match.group(1), {}
    for key, path in TAB_PATHS.items():
        href = path.format(id=org.id)
        match = re.search(rf'<a class="nav-link( active)?"[^>]*href="{re.escape(href)}"', html)
        if match:
            found[key] = bool(match.group(1))
    return found


def assert_tabs(html: str, org, active: str, visible=ALL_TABS) -> None:
    shown = tabs(html, org)
    assert tuple(shown) == tuple(visible), shown
    assert [key for key, on in shown.items() if on] == [active], shown


def login(client, auth, member_or_user) -> None:
    user = getattr(member_or_user, "user", member_or_user)
    assert auth.login(user.email).status_code == 302


# ---------------------------------------------------------------------------
# Every tab, with its real content


@pytest.mark.parametrize("who", ["staff", "owner", "admin"])
def test_every_tab_of_a_prepaid_organization_renders_its_real_content(client, auth, acme, who):
    fund(acme.org, 250, reference="seed-funds")
    receipt = buy(acme.org, 1000)
    login(client, auth, getattr(acme, who))
    org = acme.org

    overview = client.get(f"/organizations/{org.id}/")
    assert overview.status_code == 200
    html = text(overview)
    assert_tabs(html, org, "overview")
    assert re.search(r'data-field="balance">1,250<', html)
    assert 'data-chart="credits"' in html
    assert f'href="/organizations/{org.id}/credits/"' in html

    payment = client.get(f"/organizations/{org.id}/payment", follow_redirects=True)
    assert payment.status_code == 200
    assert payment.request.path == f"/organizations/{org.id}/credits/"
    html = text(payment)
    assert "Manage SMS Credits" in html and "seed-funds" in html
    assert_tabs(html, org, "payment")

    logs = client.get(f"/organizations/{org.id}/logs", follow_redirects=True)
    assert logs.status_code == 200
    assert logs.request.path == f"/organizations/{org.id}/credits/log"
    html = text(logs)
    assert "Last 30 days log" in html and "Download CSV" in html and "seed-funds" in html
    assert_tabs(html, org, "logs")

    settings = text(client.get(f"/organizations/{org.id}/settings"))
    assert_tabs(settings, org, "settings")
    assert f'href="/organizations/{org.id}/api-keys/"' in settings
    keys = client.get(f"/organizations/{org.id}/api-keys/")
    assert keys.status_code == 200
    assert_tabs(text(keys), org, "settings")

    listing = text(client.get(f"/organizations/{org.id}/invoices"))
    assert_tabs(listing, org, "invoices")
    assert receipt.number in listing and "Tax invoice / Receipt" in listing
    assert "€54.45" in listing  # 1,000 x €0.045 = €45.00 + 21 % tax

    for key in ("members", "audit"):
        response = client.get(TAB_PATHS[key].format(id=org.id))
        assert response.status_code == 200, key
        assert_tabs(text(response), org, key)


@pytest.mark.parametrize("part", ["purchase", "transfer", "withdraw"])
def test_credits_pages_keep_the_seven_tabs_with_payment_highlighted(client, auth, acme, part):
    acme.org.individual_user_credits = True
    commit()
    fund(acme.org, 100)
    login(client, auth, acme.staff)
    response = client.get(f"/organizations/{acme.org.id}/credits/{part}")
    assert response.status_code == 200
    assert_tabs(text(response), acme.org, "payment")


@pytest.mark.parametrize("who", ["staff", "postpaid_owner"])
def test_postpaid_payment_and_logs_show_limit_debt_and_an_honest_note(client, auth, acme, who):
    org = acme.postpaid
    login(client, auth, getattr(acme, who))

    payment = client.get(f"/organizations/{org.id}/payment")
    assert payment.status_code == 200
    html = text(payment)
    assert_tabs(html, org, "payment")
    assert re.search(r'data-field="credit-limit">€500.00<', html)
    assert re.search(r'data-field="debt">€0.00<', html)
    assert 'data-section="postpaid-payment"' in html

    logs = client.get(f"/organizations/{org.id}/logs")
    assert logs.status_code == 200
    assert_tabs(text(logs), org, "logs")
    assert "This organization is postpaid: it has no credits." in text(logs)

    overview = text(client.get(f"/organizations/{org.id}/"))
    assert re.search(r'data-field="debt">€0.00<', overview)
    assert 'data-chart="credits"' not in overview


def test_a_plain_member_sees_only_the_tabs_they_may_open(client, auth, acme):
    buy(acme.org)
    invoice = monthly_invoice(acme.org)
    login(client, auth, acme.member)
    org = acme.org
    allowed = ("overview", "members", "messages", "contacts", "payment", "logs")

    overview = text(client.get(f"/organizations/{org.id}/"))
    assert_tabs(overview, org, "overview", visible=allowed)
    # The pool and its chart are for those who manage every account, as on the credits page.
    assert 'data-field="balance"' not in overview and 'data-chart="credits"' not in overview
    assert f'href="/organizations/{org.id}/credits/"' in overview

    credits_page = client.get(f"/organizations/{org.id}/payment", follow_redirects=True)
    assert credits_page.status_code == 200
    assert_tabs(text(credits_page), org, "payment", visible=allowed)
    log = client.get(f"/organizations/{org.id}/logs", follow_redirects=True)
    assert log.status_code == 200
    assert_tabs(text(log), org, "logs", visible=allowed)

    for path in (
        f"/organizations/{org.id}/settings",
        f"/organizations/{org.id}/audit",
        f"/organizations/{org.id}/invoices",
        f"/organizations/{org.id}/invoices/{invoice.id}",
    ):
        assert client.get(path).status_code == 403, path


def test_a_postpaid_plain_member_has_no_payment_tab(client, auth, acme, create_member):
    member = create_member(acme.postpaid, role="member")
    login(client, auth, member)
    html = text(client.get(f"/organizations/{acme.postpaid.id}/"))
    assert_tabs(
        html,
        acme.postpaid,
        "overview",
        visible=("overview", "members", "messages", "contacts", "logs"),
    )
    assert client.get(f"/organizations/{acme.postpaid.id}/payment").status_code == 403


# ---------------------------------------------------------------------------
# Invoices: list, detail, PDF


def test_invoices_list_newest_first_with_kind_period_issued_total_status(client, auth, acme):
    older = monthly_invoice(acme.org, issued_at=utcnow() - timedelta(days=3))
    receipt = buy(acme.org)
    acme.org.timezone = "America/Mexico_City"
    commit()
    login(client, auth, acme.owner)
    html = text(client.get(f"/organizations/{acme.org.id}/invoices"))
    rows = re.findall(r'<tr data-invoice="(inv_\w+)">(.*?)</tr>', html, re.S)
    assert [invoice_id for invoice_id, _ in rows] == [receipt.id, older.id]
    first, second = (row for _, row in rows)
    assert "Tax invoice / Receipt" in first and "€54.45" in first and 'data-status="paid"' in first
    assert "Invoice" in second and "October 2026" in second and "€121.00" in second
    assert 'data-status="open"' in second
    assert f"/organizations/{acme.org.id}/credits/receipts/{older.id}.pdf" in second
    assert f"/organizations/{acme.org.id}/invoices/{older.id}" in second


def test_invoice_detail_shows_lines_billing_as_issued_totals_and_tax(client, auth, acme):
    receipt = buy(acme.org, 1000)
    acme.org.billing_name = "Renamed Later SL"
    commit()
    login(client, auth, acme.staff)
    response = client.get(f"/organizations/{acme.org.id}/invoices/{receipt.id}")
    assert response.status_code == 200
    html = text(response)
    assert_tabs(html, acme.org, "invoices")
    assert re.search(r'data-field="billing-name">Acme Billing SL<', html)
    assert "Renamed Later SL" not in html
    assert "B12345678" in html
    assert re.search(r'data-field="subtotal">€45.00<', html)
    assert "Tax (21 %)" in html and re.search(r'data-field="tax">€9.45<', html)
    assert re.search(r'data-field="total">€54.45<', html)
    assert "1,000" in html  # the line's quantity


def test_invoice_pdf_downloads_for_receipts_and_monthly_invoices(client, auth, acme):
    receipt = buy(acme.org)
    invoice = monthly_invoice(acme.org)
    login(client, auth, acme.admin)
    for issued in (receipt, invoice):
        detail = text(client.get(f"/organizations/{acme.org.id}/invoices/{issued.id}"))
        link = re.search(r'id="download-invoice" href="([^"]+)"', detail).group(1)
        response = client.get(link)
        assert response.status_code == 200
        assert response.mimetype == "application/pdf"
        pdf = "".join(p.extract_text() for p in PdfReader(io.BytesIO(response.data)).pages)
        assert issued.number in pdf and "Acme Billing SL" in pdf


def test_invoices_are_keyset_paginated(client, auth, acme):
    start = utcnow() - timedelta(days=60)
    for day in range(53):
        invoices.issue_invoice(
            acme.org,
            kind=InvoiceKind.RECEIPT,
            lines=[
                {
                    "item": InvoiceItem.SMS_CREDITS,
                    "quantity": 1,
                    "unit_price": Decimal("1"),
                }
            ],
            tax_percent=Decimal("0"),
            billing=invoices.billing_snapshot(acme.org),
            language="en",
            paid=True,
            issued_at=start + timedelta(days=day),
        )
    commit()
    login(client, auth, acme.staff)
    first = text(client.get(f"/organizations/{acme.org.id}/invoices"))
    assert first.count("<tr data-invoice=") == 50
    older = re.search(r'rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    second = text(client.get(older))
    assert second.count("<tr data-invoice=") == 3
    assert 'rel="next"' not in second and ">Newest<" in second
    ids = set(re.findall(r'data-invoice="(inv_\w+)"', first + second))
    assert len(ids) == 53
    bad = client.get(f"/organizations/{acme.org.id}/invoices", query_string={"cursor": "%%%"})
    assert bad.status_code == 404


def test_another_tenants_invoice_is_404(
    client, auth, acme, create_reseller, create_reseller_staff, create_organization
):
    receipt = buy(acme.org)
    sibling = create_organization(acme.reseller, name="Sibling", country="ES")
    sibling_invoice = monthly_invoice(sibling)
    other = create_reseller(name="Other Telecom")
    stranger = create_reseller_staff(other, name="Agent B")

    login(client, auth, stranger)
    for path in (
        f"/organizations/{acme.org.id}/invoices",
        f"/organizations/{acme.org.id}/invoices/{receipt.id}",
        f"/organizations/{acme.org.id}/credits/receipts/{receipt.id}.pdf",
    ):
        assert client.get(path).status_code == 404, path

    auth.logout()
    login(client, auth, acme.owner)
    # Another organization's invoice under this organization's address: as if it did not exist.
    assert (
        client.get(f"/organizations/{acme.org.id}/invoices/{sibling_invoice.id}").status_code == 404
    )
    assert client.get(f"/organizations/{acme.org.id}/invoices/inv_nope").status_code == 404
    assert client.get(f"/organizations/{acme.org.id}/invoices/" + "x" * 500).status_code == 404


def test_get_invoice_scopes_by_tenant_and_member(acme, create_reseller, create_reseller_staff):
    from tenants.access import scoping
    from tenants.core.errors import NotFound

    receipt = buy(acme.org)
    assert scoping.get_invoice(owner_actor(acme.org), receipt.id) == receipt
    assert scoping.get_invoice(SYSTEM, receipt.id, acme.org) == receipt
    stranger = Actor(user_id="usr_x", reseller_id="res_other", reseller_role=ResellerRole.AGENT)
    plain = member_actor(acme.member)
    for actor in (stranger, plain):
        with pytest.raises(NotFound):
            scoping.get_invoice(actor, receipt.id)
    with pytest.raises(NotFound):
        scoping.get_invoice(SYSTEM, receipt.id, acme.postpaid)


# ---------------------------------------------------------------------------
# The Customer app's shortcuts, and Spanish


def test_customer_list_shortcuts_jump_to_the_real_sections(client, auth, acme):
    buy(acme.org)
    login(client, auth, acme.staff)
    html = text(client.get("/customers/"))
    menu = re.search(rf'data-shortcuts="{acme.org.id}">(.*?)</ul>', html, re.S).group(1)
    links = re.findall(r'href="([^"]+)"', menu)
    assert links == [TAB_PATHS[key].format(id=acme.org.id) for key in ALL_TABS]
    for key, link in zip(ALL_TABS, links, strict=True):
        response = client.get(link, follow_redirects=True)
        assert response.status_code == 200, link
        assert_tabs(text(response), acme.org, key)


@pytest.mark.parametrize("who", ["staff", "owner"])
def test_sections_render_in_spanish(client, auth, acme, who):
    fund(acme.org, 100)
    receipt = buy(acme.org)
    invoice = monthly_invoice(acme.org)
    person = getattr(acme, who)
    user = getattr(person, "user", person)
    user.language = None  # the browser's language decides (an owner's is set at invitation)
    commit()
    login(client, auth, person)
    spanish = {"Accept-Language": "es"}
    for org in (acme.org, acme.postpaid) if who == "staff" else (acme.org,):
        for key in ALL_TABS:
            response = client.get(
                TAB_PATHS[key].format(id=org.id), headers=spanish, follow_redirects=True
            )
            assert response.status_code == 200, (org.name, key)
            assert 'lang="es"' in text(response)
    listing = text(client.get(f"/organizations/{acme.org.id}/invoices", headers=spanish))
    assert "Facturas" in listing and "octubre de 2026" in listing
    assert "54,45" in listing
    for issued in (receipt, invoice):
        detail = client.get(f"/organizations/{acme.org.id}/invoices/{issued.id}", headers=spanish)
        assert detail.status_code == 200
        assert 'lang="es"' in text(detail)
    pdf = client.get(
        f"/organizations/{acme.org.id}/credits/receipts/{invoice.id}.pdf", headers=spanish
    )
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"


def _forged(values) -> str:
    import base64
    import json

    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "%%%",
        _forged(["2026-01-01T00:00:00+00:00", "x\x00y"]),
        _forged(["9999-12-31T23:59:59+00:00", "inv_x"]),
        _forged(["older", "9999-12-31T23:59:59+00:00", "x"]),
        _forged(["older", "2026-01-01T00:00:00+00:00", "x\x00"]),
    ],
)
@pytest.mark.parametrize("tab", ["invoices", "audit", "logs"])
def test_a_forged_page_link_is_never_a_server_error(client, auth, acme, tab, cursor):
    login(client, auth, acme.staff)
    answer = client.get(TAB_PATHS[tab].format(id=acme.org.id), query_string={"cursor": cursor})
    assert answer.status_code < 500
    if tab in ("invoices", "audit"):
        assert answer.status_code == 404
