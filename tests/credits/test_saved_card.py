"""The saved card on the organization's settings page: brand, last four digits and expiry,
and "Remove card", which switches automatic top-up off and says so."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tenants.core.errors import Forbidden
from tenants.core.extensions import db
from tenants.credits import payments, topups
from tenants.jobs.outbox import commit
from tenants.models import AuditEntry, Organization, SavedPaymentMethod
from tenants.organizations import operations as organizations
from tests.conftest import member_actor
from tests.credits.conftest import credits_url

GOOD_CARD = "4242 4242 4242 4242"


def settings_url(org) -> str:
    return f"/organizations/{org.id}/settings"


def remove_url(org) -> str:
    return f"/organizations/{org.id}/saved-card/remove"


def save(shop, card=GOOD_CARD, expiry="12/30") -> None:
    topups.save_card(member_actor(shop.owner), shop.org, {"card_number": card, "expiry": expiry})
    commit()


def switch_on_auto_top_up(shop) -> None:
    organizations.update_organization(
        member_actor(shop.owner),
        shop.org,
        {"auto_top_up.enabled": True, "auto_top_up.below": 100, "auto_top_up.credits": 1000},
    )
    commit()


def saved_cards() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(SavedPaymentMethod))


def actions(org) -> list[str]:
    return db.session.scalars(
        sa.select(AuditEntry.action)
        .where(AuditEntry.organization_id == org.id)
        .order_by(AuditEntry.created_at, AuditEntry.id)
    ).all()


@pytest.mark.parametrize(
    ("number", "brand"),
    [
        ("4242424242424242", "visa"),
        ("5555555555554444", "mastercard"),
        ("2223003122003222", "mastercard"),
        ("378282246310005", "amex"),
        ("6011111111111117", "discover"),
        ("3566002020360505", "card"),
    ],
)
def test_the_sandbox_remembers_brand_and_expiry_in_its_token(number, brand):
    provider = payments.provider_for("sandbox")
    token, last4 = provider.tokenize({"card_number": number, "expiry": "7/2031"})
    assert last4 == number[-4:]
    assert payments.card_details("sandbox", token) == payments.CardDetails(brand, 7, 2031)
    no_expiry, _ = provider.tokenize({"card_number": number, "expiry": "13/99"})
    assert payments.card_details("sandbox", no_expiry) == payments.CardDetails(brand)
    # A token from before the sandbox remembered details: nothing known, nothing broken.
    assert payments.card_details("sandbox", "tok_sandbox_" + "ab" * 12) == payments.CardDetails()
    assert payments.card_details("offline", token) == payments.CardDetails()


def test_a_declined_test_card_still_declines_with_the_new_token(shop):
    token, _ = payments.provider_for("sandbox").tokenize({"card_number": "4000000000000002"})
    assert token.startswith("tok_sandbox_declined_")
    assert payments.card_details("sandbox", token).brand == "visa"


def test_settings_show_the_card_saved_at_checkout(client, auth, shop):
    auth.login(shop.owner.user.email)
    page = client.get(settings_url(shop.org)).get_data(as_text=True)
    assert "No card is saved." in page and "Automatic top-up is off." in page
    assert 'id="remove-saved-card"' not in page

    confirm = client.post(
        credits_url(shop.org, "purchase/confirm"),
        data={"account": "system", "credits": "100", "payment_method": "sandbox"},
    )
    pay_url = confirm.headers["Location"]
    paid = client.post(
        pay_url, data={"card_number": GOOD_CARD, "expiry": "09/29", "save_card": "y"}
    )
    assert paid.status_code == 302
    page = client.get(settings_url(shop.org)).get_data(as_text=True)
    assert "Visa" in page and "ending in 4242" in page and "expires 09/2029" in page
    assert 'id="remove-saved-card"' in page


def test_removing_the_card_switches_automatic_top_up_off_and_says_so(client, auth, shop):
    save(shop)
    switch_on_auto_top_up(shop)
    auth.login(shop.admin.user.email)
    page = client.get(settings_url(shop.org)).get_data(as_text=True)
    assert "Automatic top-up is on" in page
    assert "Removing the card switches automatic top-up off." in page

    response = client.post(remove_url(shop.org))
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"{settings_url(shop.org)}#saved-card")
    page = client.get(settings_url(shop.org)).get_data(as_text=True)
    assert "The card ending in 4242 was removed. Automatic top-up is now off" in page
    assert "No card is saved." in page and "Automatic top-up is off." in page
    db.session.expire_all()
    assert saved_cards() == 0
    assert db.session.get(Organization, shop.org.id).auto_top_up_enabled is False
    removed = db.session.scalar(
        sa.select(AuditEntry).where(AuditEntry.action == "payment_method.removed")
    )
    assert removed.changes == {"card": ["•••• 4242", None]}
    assert removed.actor_user_id == shop.admin.user_id
    updated = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "organization.updated")
    ).all()
    assert updated[-1].changes == {"auto_top_up.enabled": [True, False]}

    # A second click (or a stale page) removes nothing more.
    again = client.post(remove_url(shop.org), follow_redirects=True)
    assert "No card is saved for this organization." in again.get_data(as_text=True)
    assert actions(shop.org).count("payment_method.removed") == 1
    # And the next crossing of the level buys nothing.
    assert topups.run_auto_top_up(shop.org.id) is None


def test_removing_the_card_with_automatic_top_up_off_leaves_it_off(client, auth, shop):
    save(shop)
    auth.login(shop.owner.user.email)
    page = client.post(remove_url(shop.org), follow_redirects=True).get_data(as_text=True)
    assert "The card ending in 4242 was removed." in page
    assert "Automatic top-up is now off" not in page
    assert "organization.updated" not in actions(shop.org)


def test_members_staff_of_others_and_support_sessions_cannot_remove_the_card(
    client, auth, shop, other_reseller
):
    save(shop)
    auth.login(shop.member.user.email)
    assert client.post(remove_url(shop.org)).status_code == 403
    auth.logout()
    auth.login(other_reseller.staff.email)
    assert client.post(remove_url(shop.org)).status_code == 404
    acting = member_actor(shop.owner, real_user_id=shop.staff.id)
    with pytest.raises(Forbidden):
        topups.remove_card(acting, shop.org)
    assert saved_cards() == 1


def test_reseller_staff_can_remove_a_customers_card(client, auth, shop):
    save(shop)
    auth.login(shop.staff.email)
    page = client.get(settings_url(shop.org)).get_data(as_text=True)
    assert "ending in 4242" in page
    assert client.post(remove_url(shop.org)).status_code == 302
    assert saved_cards() == 0
