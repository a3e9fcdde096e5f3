"""Issue 16, item 13: one credit reads "1 credit", never "1 credits" -- on the card page, the
payment's confirmation, the receipt email, the test SMS and the low-balance alert -- in
English and in Spanish."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from flask import render_template
from flask_babel import force_locale

from tenants.jobs.outbox import commit
from tests.conftest import text_of
from tests.credits.conftest import credits_url
from tests.credits.test_credits_web import GOOD_CARD, page, start_purchase

CARD = {"card_number": GOOD_CARD, "expiry": "12/30", "card_name": "Ann Owner", "cvc": "123"}

TEXTS = {
    "en": {
        "quote": "1 credit for System Credits",
        "approved": "Payment approved: 1 credit added.",
        "applied": "1 credit has been applied to System Credits.",
        "email": "1 SMS credit was added to Acme.",
    },
    "es": {
        "quote": "1 crédito para Créditos del sistema",
        "approved": "Pago aprobado: se agregó 1 crédito.",
        "applied": "Se acreditó 1 crédito en Créditos del sistema.",
        "email": "Se agregó 1 crédito SMS a Acme.",
    },
}


@pytest.mark.parametrize("language", ["en", "es"])
def test_buying_one_credit_says_one_credit(client, auth, shop, smtp_server, language):
    texts = TEXTS[language]
    shop.owner.user.language = language
    commit()
    auth.login(shop.owner.user.email)
    purchase_id = start_purchase(client, shop.org, quantity="1")
    url = credits_url(shop.org, "purchases", purchase_id, "pay")
    assert texts["quote"] in page(client.get(url))

    done = client.post(url, data=CARD, follow_redirects=True)
    html = page(done)
    assert texts["approved"] in html
    assert texts["applied"] in html
    (email,) = smtp_server.wait_for(1)
    assert texts["email"] in text_of(email)


@pytest.mark.parametrize(
    ("language", "subject", "body"),
    [
        (
            "en",
            "Low balance: 1 SMS credit left in Acme",
            "have dropped to 1 SMS credit, at or below your alert threshold of 1 credit.",
        ),
        (
            "es",
            "Créditos bajos: queda 1 crédito SMS en Acme",
            "bajaron a 1 crédito SMS, igual o por debajo de tu límite de aviso de 1 crédito.",
        ),
    ],
)
def test_a_low_balance_alert_of_one_credit_says_one_credit(app, language, subject, body):
    values = {
        "organization": SimpleNamespace(name="Acme"),
        "account_name": None,
        "balance": 1,
        "threshold": 1,
        "link": "http://portal.test/buy",
    }
    with app.test_request_context(), force_locale(language):
        assert render_template("emails/low_balance_alert.subject.txt", **values) == subject
        assert body in render_template("emails/low_balance_alert.txt", **values)
        assert body in render_template("emails/low_balance_alert.html", **values)
