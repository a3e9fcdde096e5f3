"""The credits pages: buy with the sandbox card, receipts, transfers, withdrawals, test SMS,
the movement history, the last 30 days log (CSV and print) and who may see what."""

from __future__ import annotations

import csv
import io
import re

import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import gettext as _

from tenants.core.extensions import db
from tenants.credits import ledger
from tenants.jobs.outbox import commit
from tenants.models import Invoice, LedgerEntry, Purchase, PurchaseStatus
from tests.credits.conftest import (
    MOVEMENTS_CSV_HEADER,
    count,
    credits_url,
    fund,
    member_account,
    system_credits,
)

GOOD_CARD = "4242 4242 4242 4242"
DECLINED_CARD = "4000 0000 0000 0002"


def page(response) -> str:
    return response.get_data(as_text=True)


def start_purchase(client, org, account="system", quantity="1000", method="sandbox") -> str:
    """Through the form and the quote to the payment page; the purchase's id."""
    response = client.post(
        credits_url(org, "purchase/confirm"),
        data={"account": account, "credits": quantity, "payment_method": method},
    )
    assert response.status_code == 302, page(response)
    match = re.search(r"/purchases/(pur_\w+)/pay$", response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(1)


# ---------------------------------------------------------------------------
# Buying credits


def test_org_admin_buys_credits_with_the_sandbox_card_and_downloads_the_receipt(client, auth, shop):
    auth.login(shop.owner.user.email)
    home = page(client.get(credits_url(shop.org, "")))
    assert "Manage SMS Credits" in home and "Buy credits" in home
    assert "Purchase SMS Credits" in home and "View Last 30 Days Logs" in home

    form = page(client.get(credits_url(shop.org, "purchase")))
    assert "Proceed" in form and "System Credits" in form

    quote = client.post(
        credits_url(shop.org, "purchase"), data={"account": "system", "credits": "1,000"}
    )
    text = page(quote)
    assert quote.status_code == 200
    # 1,000 x €0.045 = €45.00; 21 % tax = €9.45; total €54.45
    for figure in ("€0.045", "€45.00", "€9.45", "€54.45", "Acme Billing SL", "B12345678"):
        assert figure in text, figure
    assert "Edit billing details" in text and "Bank account (IBAN)" in text
    assert 'value="offline"' not in text  # offline payments are for reseller staff

    purchase_id = start_purchase(client, shop.org)
    card_page = page(client.get(credits_url(shop.org, "purchases", purchase_id, "pay")))
    assert "4000 0000 0000 0002" in card_page and "Card number" in card_page

    paid = client.post(
        credits_url(shop.org, "purchases", purchase_id, "pay"),
        data={"card_number": GOOD_CARD, "card_name": "Ann Owner", "expiry": "12/30", "cvc": "123"},
    )
    assert paid.status_code == 302
    done = page(client.get(paid.headers["Location"]))
    assert "1,000 credits have been applied to System Credits." in done
    assert "Download tax invoice / receipt (PDF)" in done
    assert system_credits(shop.org) == 1000

    receipt_url = re.search(r'href="([^"]+/receipts/[^"]+\.pdf)"', done).group(1)
    pdf = client.get(receipt_url)
    assert pdf.status_code == 200
    assert pdf.mimetype == "application/pdf"
    assert pdf.headers["Content-Disposition"].startswith("attachment;")
    assert pdf.data.startswith(b"%PDF")


def test_double_submitting_the_payment_credits_once(client, auth, shop):
    auth.login(shop.admin.user.email)
    purchase_id = start_purchase(client, shop.org, quantity="500")
    url = credits_url(shop.org, "purchases", purchase_id, "pay")
    first = client.post(url, data={"card_number": GOOD_CARD, "expiry": "12/30"})
    second = client.post(url, data={"card_number": GOOD_CARD, "expiry": "12/30"})
    reload = client.get(url)
    for response in (first, second, reload):
        assert response.status_code == 302
        assert response.headers["Location"].endswith(f"/purchases/{purchase_id}/")
    assert system_credits(shop.org) == 500
    assert count(Invoice) == 1
    assert db.session.scalar(sa.select(sa.func.count()).where(LedgerEntry.credits > 0)) == 1


def test_declined_card_changes_nothing_and_another_card_can_be_tried(client, auth, shop):
    auth.login(shop.owner.user.email)
    purchase_id = start_purchase(client, shop.org, quantity="200")
    url = credits_url(shop.org, "purchases", purchase_id, "pay")

    declined = client.post(url, data={"card_number": DECLINED_CARD, "expiry": "12/30"})
    text = page(declined)
    assert "Your card was declined." in text
    assert "Nothing was charged and no credits were added." in text
    assert system_credits(shop.org) == 0
    assert count(Invoice) == 0 and count(LedgerEntry) == 0
    # Submitting the declined form again changes nothing either.
    assert "Your card was declined." in page(
        client.post(url, data={"card_number": GOOD_CARD, "expiry": "12/30"})
    )
    assert system_credits(shop.org) == 0

    retry = client.post(credits_url(shop.org, "purchases", purchase_id, "retry"))
    assert retry.status_code == 302
    new_url = retry.headers["Location"]
    assert purchase_id not in new_url
    assert (
        client.post(new_url, data={"card_number": GOOD_CARD, "expiry": "12/30"}).status_code == 302
    )
    assert system_credits(shop.org) == 200
    statuses = db.session.scalars(sa.select(Purchase.status).order_by(Purchase.created_at)).all()
    assert statuses == [PurchaseStatus.DECLINED, PurchaseStatus.PAID]


def test_bad_card_number_and_bad_quantity_are_shown_next_to_the_field(client, auth, shop):
    auth.login(shop.owner.user.email)
    for quantity, message in (
        ("", "greater than zero"),
        ("abc", "whole number"),
        ("0", "greater"),
        ("1.5", "whole number"),
    ):
        response = client.post(
            credits_url(shop.org, "purchase"), data={"account": "system", "credits": quantity}
        )
        assert response.status_code == 422
        assert message in page(response) and "invalid-feedback" in page(response)
    purchase_id = start_purchase(client, shop.org)
    response = client.post(
        credits_url(shop.org, "purchases", purchase_id, "pay"), data={"card_number": "12"}
    )
    assert "Enter a card number." in page(response)
    assert system_credits(shop.org) == 0


def test_missing_price_is_a_clear_message(client, auth, create_organization):
    org = create_organization(name="Unpriced", country="ES")
    from tests.conftest import owner_of

    auth.login(owner_of(org).user.email)
    response = client.post(
        credits_url(org, "purchase"), data={"account": "system", "credits": "10"}
    )
    assert response.status_code == 409  # the refusal's own status: a state, not the input
    assert "No price is set for this currency yet" in page(response)


def test_reseller_staff_record_an_offline_payment(client, auth, shop):
    auth.login(shop.staff.email)
    quote = page(
        client.post(credits_url(shop.org, "purchase"), data={"account": "system", "credits": "100"})
    )
    assert 'value="offline"' in quote
    purchase_id = start_purchase(client, shop.org, quantity="100", method="offline")
    form = page(client.get(credits_url(shop.org, "purchases", purchase_id, "pay")))
    assert "Payment note or reference" in form
    response = client.post(
        credits_url(shop.org, "purchases", purchase_id, "pay"), data={"note": "bank ref 42"}
    )
    assert response.status_code == 302
    assert system_credits(shop.org) == 100


def test_a_member_buys_for_their_own_account_only(client, auth, shop):
    auth.login(shop.member.user.email)
    form = page(client.get(credits_url(shop.org, "purchase")))
    assert member_account(shop.member) in form
    assert 'value="system"' not in form and member_account(shop.other) not in form
    refused = client.post(
        credits_url(shop.org, "purchase/confirm"),
        data={"account": "system", "credits": "10", "payment_method": "sandbox"},
    )
    assert refused.status_code == 403
    purchase_id = start_purchase(
        client, shop.org, account=member_account(shop.member), quantity="10"
    )
    client.post(
        credits_url(shop.org, "purchases", purchase_id, "pay"),
        data={"card_number": GOOD_CARD, "expiry": "12/30"},
    )
    db.session.expire_all()
    assert dict(ledger.balance(shop.org).users)[shop.member.id] == 10


def test_purchases_and_receipts_of_another_organization_are_404(
    client, auth, shop, create_organization
):
    sibling = create_organization(shop.reseller, name="Sibling", country="ES")
    from tests.conftest import owner_of

    auth.login(owner_of(sibling).user.email)
    purchase_id = start_purchase(client, sibling, quantity="10")
    client.post(
        credits_url(sibling, "purchases", purchase_id, "pay"),
        data={"card_number": GOOD_CARD, "expiry": "12/30"},
    )
    receipt_id = db.session.scalar(sa.select(Purchase.receipt_id).where(Purchase.id == purchase_id))
    auth.logout()

    auth.login(shop.owner.user.email)
    for url in (
        credits_url(shop.org, "purchases", purchase_id, "pay"),
        credits_url(shop.org, "purchases", purchase_id, ""),
        credits_url(shop.org, f"receipts/{receipt_id}.pdf"),
        credits_url(sibling, "purchases", purchase_id, ""),
        credits_url(sibling, f"receipts/{receipt_id}.pdf"),
    ):
        assert client.get(url).status_code == 404, url


# ---------------------------------------------------------------------------
# Transfer, withdraw, test SMS


def test_transfer_needs_the_agreement_tick(client, auth, shop):
    fund(shop.org, 100)
    auth.login(shop.owner.user.email)
    form = page(client.get(credits_url(shop.org, f"transfer?to={member_account(shop.member)}")))
    assert "I agree to the conditions" in form
    data = {"source": "system", "target": member_account(shop.member), "credits": "30"}
    refused = client.post(credits_url(shop.org, "transfer"), data=data)
    assert "Tick to agree to the conditions." in page(refused)
    assert system_credits(shop.org) == 100

    done = client.post(credits_url(shop.org, "transfer"), data={**data, "agree": "y"})
    assert done.status_code == 302
    db.session.expire_all()
    balance = ledger.balance(shop.org)
    assert balance.system_credits == 70 and dict(balance.users)[shop.member.id] == 30


def test_transfer_of_more_than_the_source_holds_is_refused(client, auth, shop):
    fund(shop.org, 5)
    auth.login(shop.admin.user.email)
    response = client.post(
        credits_url(shop.org, "transfer"),
        data={
            "source": "system",
            "target": member_account(shop.member),
            "credits": "6",
            "agree": "y",
        },
    )
    assert response.status_code == 402
    assert "Insufficient credits" in page(response)
    assert system_credits(shop.org) == 5


def test_members_transfer_only_out_of_their_own_account(client, auth, shop):
    """The rules are in tests/credits/test_member_transfers.py: here, the page a member gets."""
    auth.login(shop.member.user.email)
    form = page(client.get(credits_url(shop.org, "transfer")))
    assert f'value="{member_account(shop.member)}"' in form
    assert 'name="source"' in form and "Otto Other" in form


def test_withdraw_is_for_reseller_staff_only(client, auth, shop):
    fund(shop.org, 50)
    data = {"account": "system", "credits": "20", "reason": "Closing the account"}
    auth.login(shop.owner.user.email)
    assert client.get(credits_url(shop.org, "withdraw")).status_code == 403
    assert client.post(credits_url(shop.org, "withdraw"), data=data).status_code == 403
    assert system_credits(shop.org) == 50
    auth.logout()

    auth.login(shop.staff.email)
    assert "Withdraw credits" in page(client.get(credits_url(shop.org, "")))
    assert client.post(credits_url(shop.org, "withdraw"), data=data).status_code == 302
    assert system_credits(shop.org) == 30
    too_many = client.post(credits_url(shop.org, "withdraw"), data={**data, "credits": "31"})
    assert too_many.status_code == 402 and system_credits(shop.org) == 30


# ---------------------------------------------------------------------------
# History: colours, filters, pagination, who sees what


def test_history_shows_incoming_green_outgoing_red_with_signs(client, auth, shop):
    fund(shop.org, 100, reference="ref-in")
    auth.login(shop.owner.user.email)
    client.post(
        credits_url(shop.org, "transfer"),
        data={
            "source": "system",
            "target": member_account(shop.member),
            "credits": "7",
            "agree": "y",
        },
    )
    text = page(client.get(credits_url(shop.org, "")))
    assert re.search(
        r'credits-in" data-direction="in"><span class="visually-hidden">Incoming </span>\+100', text
    )
    assert re.search(
        r'credits-out" data-direction="out"><span class="visually-hidden">Outgoing </span>&minus;7',
        text,
    )
    assert 'data-chart="credits"' in text and "<title" in text and 'data-table="chart"' in text


def test_movement_filters_and_keyset_pagination(client, auth, shop):
    for n in range(55):
        fund(shop.org, 1, reference=f"batch-{n:02d}")
    fund(shop.org, 5, account=member_account(shop.member), reference="for-mel")
    auth.login(shop.owner.user.email)

    first = page(client.get(credits_url(shop.org, "")))
    assert first.count("<tr data-entry=") == 50
    assert "for-mel" in first and "Newer" not in first
    older_url = re.search(r'href="([^"]+)">Older', first).group(1).replace("&amp;", "&")
    second = page(client.get(older_url))
    assert second.count("<tr data-entry=") == 6
    assert "batch-00" in second and "Older" not in second
    newer_url = re.search(r'href="([^"]+)">&larr; Newer', second).group(1).replace("&amp;", "&")
    assert page(client.get(newer_url)).count("<tr data-entry=") == 50

    by_account = page(client.get(credits_url(shop.org, f"?account={member_account(shop.member)}")))
    assert by_account.count("<tr data-entry=") == 1 and "for-mel" in by_account
    searched = page(client.get(credits_url(shop.org, "?q=BATCH-1")))
    assert searched.count("<tr data-entry=") == 10
    by_type = page(client.get(credits_url(shop.org, "?type=usage")))
    assert "No movements found." in by_type
    long_ago = page(client.get(credits_url(shop.org, "?date_from=2001-01-01&date_to=2001-01-31")))
    assert "No movements found." in long_ago
    today = page(client.get(credits_url(shop.org, "?date_from=2001-01-01")))
    assert today.count("<tr data-entry=") == 50
    # Bad input is an error next to the field or ignored, never a 500.
    for query in ("?date_from=nope", "?cursor=garbage", "?type=bogus", "?date_to=0001-01-01"):
        assert client.get(credits_url(shop.org, query)).status_code == 200, query


def test_a_member_sees_only_their_own_account(client, auth, shop):
    fund(shop.org, 100, reference="pool-funding")
    fund(shop.org, 10, account=member_account(shop.member), reference="mel-own")
    fund(shop.org, 20, account=member_account(shop.other), reference="otto-own")
    auth.login(shop.member.user.email)

    home = page(client.get(credits_url(shop.org, "")))
    assert "mel-own" in home
    assert "pool-funding" not in home and "otto-own" not in home
    assert 'data-account="system"' not in home and "Otto Other" not in home
    for url in (
        credits_url(shop.org, "?account=system"),
        credits_url(shop.org, f"?account={member_account(shop.other)}"),
        credits_url(shop.org, f"log?account={member_account(shop.other)}"),
        credits_url(shop.org, f"log.csv?account={member_account(shop.other)}"),
        credits_url(shop.org, "withdraw"),
    ):
        assert client.get(url).status_code == 403, url

    log = page(client.get(credits_url(shop.org, "log")))
    assert "mel-own" in log and "otto-own" not in log and "pool-funding" not in log
    csv_text = client.get(credits_url(shop.org, "log.csv")).get_data(as_text=True)
    assert "mel-own" in csv_text and "otto-own" not in csv_text and "pool-funding" not in csv_text


def test_another_resellers_staff_get_404_on_every_credits_url(client, auth, shop, other_reseller):
    fund(shop.org, 10)
    auth.login(shop.owner.user.email)
    purchase_id = start_purchase(client, shop.org, quantity="10")
    client.post(
        credits_url(shop.org, "purchases", purchase_id, "pay"),
        data={"card_number": GOOD_CARD, "expiry": "12/30"},
    )
    receipt_id = db.session.scalar(sa.select(Purchase.receipt_id))
    auth.logout()

    auth.login(other_reseller.staff.email)
    gets = [
        "",
        "purchase",
        f"purchases/{purchase_id}/pay",
        f"purchases/{purchase_id}/",
        f"receipts/{receipt_id}.pdf",
        "transfer",
        "withdraw",
        "test-sms",
        "log",
        "log.csv",
        "log/print",
    ]
    for part in gets:
        assert client.get(credits_url(shop.org, part)).status_code == 404, part
    posts = {
        "purchase": {"account": "system", "credits": "10"},
        "purchase/confirm": {"account": "system", "credits": "10", "payment_method": "offline"},
        f"purchases/{purchase_id}/pay": {"note": "x"},
        f"purchases/{purchase_id}/retry": {},
        "transfer": {"source": "system", "target": "system", "credits": "1", "agree": "y"},
        "withdraw": {"account": "system", "credits": "10", "reason": "steal"},
    }
    for part, data in posts.items():
        assert client.post(credits_url(shop.org, part), data=data).status_code == 404, part
    assert system_credits(shop.org) == 20
    # Their own reseller-wide log does not show Reseller A's movements.
    assert "Acme" not in page(client.get("/credits/reseller-log"))


# ---------------------------------------------------------------------------
# Last 30 days log: CSV and print


def test_csv_streams_localized_headers_and_escapes_formulas(client, auth, shop):
    fund(shop.org, 40, reference="=cmd()")
    fund(shop.org, 2, reference="@SUM(A1)")
    shop.owner.user.language = None  # no saved language: the browser's Accept-Language decides
    commit()
    auth.login(shop.owner.user.email)
    response = client.get(credits_url(shop.org, "log.csv"), headers={"Accept-Language": "es"})
    assert response.status_code == 200
    assert response.is_streamed
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    with force_locale("es"):
        expected = [_(h) for h in MOVEMENTS_CSV_HEADER]
    assert rows[0] == expected
    assert "Importe" in rows[0]
    references = [row[7] for row in rows[1:]]
    assert "'=cmd()" in references and "'@SUM(A1)" in references
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", rows[1][0])
    assert {row[3] for row in rows[1:]} == {"40", "2"}


def test_print_report_has_no_navigation_and_no_inline_script(client, auth, shop):
    fund(shop.org, 40, reference="printed-ref")
    auth.login(shop.owner.user.email)
    response = client.get(credits_url(shop.org, "log/print"))
    text = page(response)
    assert response.status_code == 200
    assert "printed-ref" in text
    assert "navbar" not in text and "<nav" not in text
    assert 'id="print-report"' in text and "js/print-report.js" in text
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text) is None
    assert "css/app.css" in text


def test_reseller_wide_log_is_for_reseller_staff(client, auth, shop, create_organization):
    sibling = create_organization(shop.reseller, name="Sibling", country="ES")
    fund(shop.org, 10, reference="acme-ref")
    fund(sibling, 20, reference="sibling-ref")
    auth.login(shop.staff.email)
    text = page(client.get("/credits/reseller-log"))
    assert "acme-ref" in text and "sibling-ref" in text and "Sibling" in text
    csv_text = client.get("/credits/reseller-log.csv").get_data(as_text=True)
    assert "acme-ref" in csv_text and "sibling-ref" in csv_text
    auth.logout()
    auth.login(shop.owner.user.email)
    assert client.get("/credits/reseller-log").status_code == 403
    assert client.get("/credits/reseller-log.csv").status_code == 403


def test_user_menu_links_to_manage_sms_credits(client, auth, shop):
    auth.login(shop.member.user.email)
    text = page(client.get(credits_url(shop.org, "")))
    assert f'href="/organizations/{shop.org.id}/credits/"' in text
    assert 'id="manage-credits-link"' in text


def test_pages_render_in_spanish(client, auth, shop):
    fund(shop.org, 100, reference="es-ref")
    shop.owner.user.language = "es"
    commit()
    auth.login(shop.owner.user.email)
    for part in ("", "purchase", "transfer", "log", "log/print"):
        response = client.get(credits_url(shop.org, part))
        assert response.status_code == 200, part
        assert 'lang="es"' in page(response)
    quote = client.post(
        credits_url(shop.org, "purchase"), data={"account": "system", "credits": "1.000"}
    )
    assert quote.status_code == 200
    assert "54,45" in page(quote)  # 1.000 créditos: 54,45 € in Spanish formatting


def test_garbage_input_is_never_a_server_error(client, auth, shop):
    fund(shop.org, 10)
    auth.login(shop.owner.user.email)
    posts = {
        "purchase": [
            {"account": "member:nobody", "credits": "10"},
            {"account": "system", "credits": "99999999999999"},
            {"account": "system", "credits": "-5"},
            {},
        ],
        "purchase/confirm": [
            {"account": "system", "credits": "10", "payment_method": "bogus"},
            {"account": "bogus", "credits": "x", "payment_method": "sandbox"},
            {},
        ],
        "transfer": [
            {"source": "member:nobody", "target": "system", "credits": "1", "agree": "y"},
            {"source": "system", "target": "system", "credits": "1", "agree": "y"},
            {"source": "system", "target": "x" * 5000, "credits": "1e9", "agree": "y"},
        ],
    }
    for part, cases in posts.items():
        for data in cases:
            response = client.post(credits_url(shop.org, part), data=data)
            assert response.status_code < 500, (part, data)
            assert response.status_code in (200, 302, 402, 403, 422), (part, data)
    for query in ("?account=bogus", "?account=member:nobody", "?q=" + "%" * 300):
        assert client.get(credits_url(shop.org, query)).status_code == 200, query
    assert client.get(credits_url(shop.org, "purchases/" + "x" * 80 + "/pay")).status_code == 404
    assert client.get(credits_url(shop.org, "receipts/" + "x" * 80 + ".pdf")).status_code == 404
    assert system_credits(shop.org) == 10


def test_a_member_cannot_follow_another_members_purchase(client, auth, shop):
    auth.login(shop.other.user.email)
    purchase_id = start_purchase(client, shop.org, account=member_account(shop.other), quantity="5")
    client.post(
        credits_url(shop.org, "purchases", purchase_id, "pay"),
        data={"card_number": GOOD_CARD, "expiry": "12/30"},
    )
    receipt_id = db.session.scalar(sa.select(Purchase.receipt_id).where(Purchase.id == purchase_id))
    auth.logout()
    auth.login(shop.member.user.email)
    for part in (
        f"purchases/{purchase_id}/pay",
        f"purchases/{purchase_id}/",
        f"receipts/{receipt_id}.pdf",
    ):
        assert client.get(credits_url(shop.org, part)).status_code == 404, part
    auth.logout()
    auth.login(shop.admin.user.email)  # administrators see every purchase of the organization
    assert client.get(credits_url(shop.org, f"receipts/{receipt_id}.pdf")).status_code == 200
