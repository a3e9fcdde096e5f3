"""Recording a payment in the portal: the amount is read as the reader writes it (English
"1,000.50", Spanish "1.000,50"), anything ambiguous is refused, and a confirmation page shows
the amount formatted in the reader's language and the organization's currency before
anything is recorded."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from babel.numbers import format_currency
from sqlalchemy import func, select

from tenants.billing import postpaid
from tenants.core.extensions import db
from tenants.models import Payment
from tests.billing.conftest import use
from tests.conftest import PASSWORD, set_prices


@pytest.fixture
def mexican(clock, create_reseller, create_organization):
    """A Mexico City organization owing MX$1,450.00: 2,500 SMS at MX$0.50 with 16 % tax."""
    reseller = create_reseller(name="Beta Telecom")
    set_prices(reseller, "0.40", "0.50", currency="MXN", taxes={"MX": "16"})
    org = create_organization(reseller=reseller, country="MX", pricing_model="postpaid")
    org.credit_limit = Decimal("100000")
    db.session.commit()
    use(org, 2500, at=datetime(2026, 11, 20, tzinfo=UTC))
    assert org.currency == "MXN" and postpaid.organization_debt(org) == Decimal("1450.00")
    return org


@pytest.fixture
def staff(client, auth, mexican, create_reseller_staff):
    """Log a staff member of the organization's reseller in; returns a language setter."""
    from tenants.models import Reseller

    agent = create_reseller_staff(db.session.get(Reseller, mexican.reseller_id))
    auth.login(agent.email, PASSWORD)

    def speak(language: str):
        agent.language = language
        db.session.commit()

    return speak


def payments_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Payment))


def review(client, org, amount, reference=""):
    return client.post(
        f"/organizations/{org.id}/payments/review",
        data={"amount": amount, "reference": reference},
    )


@pytest.mark.parametrize(
    ("language", "typed", "read"),
    [
        ("en", "1,000.50", "1000.50"),
        ("en", "1,000", "1000"),
        ("en", "1000.5", "1000.5"),
        ("es", "1.000,50", "1000.50"),
        ("es", "1.000", "1000"),
        ("es", "1000,5", "1000.5"),
    ],
)
def test_the_amount_is_read_in_the_readers_language_and_shown_before_it_is_recorded(
    client, mexican, staff, language, typed, read
):
    staff(language)
    page = review(client, mexican, typed, "SPEI 77")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    shown = format_currency(Decimal(read), "MXN", locale=language)
    assert f'data-field="amount">{shown}<' in html
    assert f'name="amount" value="{read}"' in html and 'name="csrf_token"' in html
    assert payments_count() == 0  # nothing recorded before Confirm

    done = client.post(
        f"/organizations/{mexican.id}/payments", data={"amount": read, "reference": "SPEI 77"}
    )
    assert done.status_code == 303
    payment = db.session.scalar(select(Payment))
    assert (payment.amount, payment.reference) == (Decimal(read), "SPEI 77")


def test_the_confirmation_reads_mx_dollars_in_english_and_pesos_in_spanish(client, mexican, staff):
    staff("en")
    assert "MX$1,000.50" in review(client, mexican, "1,000.50").get_data(as_text=True)
    staff("es")
    spanish = review(client, mexican, "1.000,50").get_data(as_text=True)
    assert "1.000,50\xa0MXN" in spanish or "1.000,50 MXN" in spanish


@pytest.mark.parametrize(
    ("language", "typed", "message"),
    [
        ("en", "1.000", "Use at most 2 decimals."),  # a thousand, or one? never guessed
        ("en", "1,5", "Write the amount like 1,234.56."),
        ("en", "1,00", "Write the amount like 1,234.56."),
        ("en", "1e3", "Write the amount like 1,234.56."),
        ("en", "NaN", "Write the amount like 1,234.56."),
        ("en", "", "Enter an amount greater than zero."),
        ("es", "1,000", "Usa como máximo 2 decimales."),
        ("es", "12.50", "Escribe el importe así: 1.234,56."),
        ("es", "1.000.50", "Escribe el importe así: 1.234,56."),
    ],
)
def test_ambiguous_or_malformed_amounts_are_refused_not_guessed(
    client, mexican, staff, language, typed, message
):
    staff(language)
    page = review(client, mexican, typed)
    assert page.status_code == 422
    html = page.get_data(as_text=True)
    assert message in html and 'id="payment-amount-error"' in html
    assert f'value="{typed}"' in html  # what was typed stays in the field
    assert payments_count() == 0


def test_back_returns_to_the_form_with_what_was_typed(client, mexican, staff):
    staff("es")
    html = review(client, mexican, "1.000,50", "SPEI 77").get_data(as_text=True)
    back = html.split('class="btn btn-link" href="')[1].split('"')[0].replace("&amp;", "&")
    assert back.startswith(f"/organizations/{mexican.id}/payment?")
    form = client.get(back).get_data(as_text=True)
    assert 'value="1.000,50"' in form and 'value="SPEI 77"' in form
    assert payments_count() == 0


def test_the_final_step_takes_only_the_plain_amount_it_showed(client, mexican, staff):
    """The confirmation posts "1000.50"; a locale-written or exotic amount sent to the final
    step directly is refused rather than read one way or another."""
    staff("es")
    for amount in ("1.000,50", "1,000.50", "1e3", " ", "-5"):
        refused = client.post(f"/organizations/{mexican.id}/payments", data={"amount": amount})
        assert refused.status_code == 422, amount
    assert payments_count() == 0


def test_both_steps_need_csrf(app, client, mexican, staff):
    staff("en")
    app.config["WTF_CSRF_ENABLED"] = True
    assert review(client, mexican, "10.00").status_code == 400
    recorded = client.post(f"/organizations/{mexican.id}/payments", data={"amount": "10.00"})
    assert recorded.status_code == 400
    assert payments_count() == 0


def test_the_debt_is_checked_again_on_confirm(client, mexican, staff):
    from tenants.access.actors import SYSTEM
    from tenants.billing import payments
    from tenants.jobs.outbox import commit

    staff("en")
    assert review(client, mexican, "1,450.00").status_code == 200
    payments.record_payment(SYSTEM, mexican, "1000")  # someone else records meanwhile
    commit()
    late = client.post(f"/organizations/{mexican.id}/payments", data={"amount": "1450.00"})
    assert late.status_code == 422
    assert "more than the organization owes" in late.get_data(as_text=True)
    assert payments_count() == 1
