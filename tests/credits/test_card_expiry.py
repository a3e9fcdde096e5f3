"""Issue 16, item 13: the sandbox card page refuses an expired card, or an expiry it cannot
read, next to the field and in the reader's language; nothing is charged or credited."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from tenants.core.errors import ValidationFailed
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.credits.payments import clean_expiry
from tenants.jobs.outbox import commit
from tenants.models import Invoice, LedgerEntry, Purchase, PurchaseStatus
from tests.credits.conftest import count, credits_url, system_credits
from tests.credits.test_credits_web import GOOD_CARD, page, start_purchase


def month_of(today: date, months_ago: int) -> str:
    """MM/YY of the month ``months_ago`` before ``today``'s."""
    index = today.year * 12 + today.month - 1 - months_ago
    return f"{index % 12 + 1:02d}/{index // 12 % 100:02d}"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("03/27", (3, 2027)),
        ("3/2027", (3, 2027)),
        ("0327", (3, 2027)),
        ("12/26", (12, 2026)),  # this month: valid until its last day
    ],
)
def test_an_expiry_is_read_as_month_and_year(typed, expected):
    assert clean_expiry(typed, today=date(2026, 12, 3)) == expected


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("11/26", "This card has expired."),
        ("01/20", "This card has expired."),
        ("13/27", "Enter the expiry date as MM/YY."),
        ("", "Enter the expiry date as MM/YY."),
        ("next year", "Enter the expiry date as MM/YY."),
        ("01/99", "Check the expiry date."),
    ],
)
def test_an_expired_or_unreadable_expiry_is_refused(app, typed, message):
    with app.test_request_context(), pytest.raises(ValidationFailed) as refused:
        clean_expiry(typed, today=date(2026, 12, 3))
    assert refused.value.fields == {"expiry": message}


def pending(purchase_id: str) -> bool:
    db.session.expire_all()
    return db.session.get(Purchase, purchase_id).status == PurchaseStatus.PENDING


@pytest.mark.parametrize(
    ("language", "expired", "unreadable"),
    [
        ("en", "This card has expired.", "Enter the expiry date as MM/YY."),
        ("es", "Esta tarjeta ha caducado.", "Escribe la fecha de caducidad como MM/AA."),
    ],
)
def test_the_card_page_refuses_an_expired_card_and_charges_nothing(
    client, auth, shop, language, expired, unreadable
):
    shop.owner.user.language = language
    commit()
    auth.login(shop.owner.user.email)
    purchase_id = start_purchase(client, shop.org, quantity="100")
    url = credits_url(shop.org, "purchases", purchase_id, "pay")
    card = {"card_number": GOOD_CARD, "card_name": "Ann Owner", "cvc": "123"}

    last_month = month_of(utcnow().date(), 1)
    response = client.post(url, data={**card, "expiry": last_month})
    assert response.status_code == 422
    html = page(response)
    assert 'id="expiry-error"' in html and expired in html
    assert pending(purchase_id)
    assert system_credits(shop.org) == 0
    assert count(Invoice) == 0 and count(LedgerEntry) == 0

    response = client.post(url, data={**card, "expiry": "14/30"})
    assert response.status_code == 422 and unreadable in page(response)
    assert pending(purchase_id) and system_credits(shop.org) == 0

    # A card valid until the end of this month is taken.
    response = client.post(url, data={**card, "expiry": month_of(utcnow().date(), 0)})
    assert response.status_code == 302
    assert system_credits(shop.org) == 100
    status = db.session.scalar(sa.select(Purchase.status).where(Purchase.id == purchase_id))
    assert status == PurchaseStatus.PAID
