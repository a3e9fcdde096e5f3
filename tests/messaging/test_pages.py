"""The portal's Send SMS: form → confirmation (credits to be charged) → result, refusals
answered 422 (invalid numbers listed) or 402, the history with its status filter and CSV,
in English and Spanish; the old test SMS address leads here."""

from __future__ import annotations

import re

import pytest

from tenants.core.extensions import db
from tenants.models import EntryType, Message
from tests.conftest import PASSWORD
from tests.messaging.conftest import entries, pool


def url(org, path: str = "send") -> str:
    return f"/organizations/{org.id}/messages/{path}"


def text_of(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


@pytest.fixture
def signed_in(client, auth, shop):
    auth.login(shop.owner.user.email, PASSWORD)
    return client


def review(client, org, **data):
    form = {"recipients": "+34 600 000 001\n+34 600 000 002", "text": "Hello", "review": "1"}
    return client.post(url(org), data={**form, **data})


def test_send_review_confirm_and_result(signed_in, shop):
    page = signed_in.get(url(shop.acme))
    assert page.status_code == 200
    html = text_of(page)
    assert "Send SMS" in html and 'id="sms-counter"' in html and "sms-counter.js" in html
    assert 'value="ACME"' in html  # the sender from Settings
    assert 'data-gsm-extended="' in html

    reviewed = review(signed_in, shop.acme, text="a" * 161)
    html = text_of(reviewed)
    assert reviewed.status_code == 200 and "Confirm and send" in html
    assert re.search(r'id="summary-credits">\s*4<', reviewed.get_data(as_text=True))
    assert pool(shop.acme) == 100  # nothing charged before the confirmation
    key = re.search(r'name="request_key"[^>]*value="([^"]+)"', reviewed.get_data(as_text=True))
    data = {
        "recipients": "+34 600 000 001\n+34 600 000 002",
        "text": "a" * 161,
        "sender": "ACME",
        "request_key": key.group(1),
        "confirm": "1",
    }
    sent = signed_in.post(url(shop.acme), data=data)
    assert sent.status_code == 302
    again = signed_in.post(url(shop.acme), data=data)  # a double click sends once
    assert again.headers["Location"] == sent.headers["Location"]
    message = db.session.scalars(db.select(Message)).one()
    assert sent.headers["Location"].endswith(url(shop.acme, message.id))
    assert pool(shop.acme) == 96 and len(entries(shop.acme, EntryType.MESSAGE)) == 1
    result = text_of(signed_in.get(sent.headers["Location"]))
    assert "Credits charged" in result and "Delivered" in result

    history = text_of(signed_in.get(url(shop.acme, "")))
    assert "Download CSV" in history and "Done" in history
    assert "No messages yet" in text_of(signed_in.get(url(shop.acme, "?status=queued")))
    csv = signed_in.get(url(shop.acme, "messages.csv"))
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert "Date,Status,Recipients" in csv.get_data(as_text=True)


def test_refusals_are_422_with_the_invalid_numbers_and_402_when_short(signed_in, shop):
    bad = review(signed_in, shop.acme, recipients="+34 600 000 001\n12345\nabc")
    assert bad.status_code == 422
    html = text_of(bad)
    assert "These numbers are not valid: 12345, abc" in html
    empty = review(signed_in, shop.acme, text="")
    assert empty.status_code == 422
    many = "\n".join(f"+3460000{n:04d}" for n in range(1, 12))
    short = signed_in.post(
        url(shop.acme),
        data={"recipients": many, "text": "a" * 1530, "request_key": "k1", "confirm": "1"},
    )
    assert short.status_code == 402 and "Insufficient credits" in text_of(short)
    assert pool(shop.acme) == 100


def test_the_pages_in_spanish(signed_in, shop):
    shop.owner.user.language = "es"
    db.session.commit()
    page = text_of(signed_in.get(url(shop.acme)))
    assert "Enviar SMS" in page and "Destinatarios" in page
    reviewed = text_of(review(signed_in, shop.acme))
    assert "Confirmar y enviar" in reviewed and "Créditos a cobrar" in reviewed
    bad = review(signed_in, shop.acme, recipients="12")
    assert bad.status_code == 422 and "Estos números no son válidos: 12" in text_of(bad)
    history = text_of(signed_in.get(url(shop.acme, "")))
    assert "Mensajes" in history and "Descargar CSV" in history


def test_the_old_test_sms_page_leads_to_send_sms(signed_in, shop):
    response = signed_in.get(f"/organizations/{shop.acme.id}/credits/test-sms")
    assert response.status_code == 301
    assert response.headers["Location"].endswith(url(shop.acme))
    credits_page = text_of(signed_in.get(f"/organizations/{shop.acme.id}/credits/"))
    assert "Send test SMS" not in credits_page and url(shop.acme) in credits_page


def test_another_tenants_messages_are_404(signed_in, shop, auth, client):
    review_page = signed_in.get(url(shop.zeta))
    assert review_page.status_code == 404
    assert signed_in.get(url(shop.zeta, "")).status_code == 404
    assert signed_in.get(url(shop.zeta, "msg_01jzzzzzzzzzzzzzzzzzzzzzzz")).status_code == 404
