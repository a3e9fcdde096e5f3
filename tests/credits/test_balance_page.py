"""Balance & configuration (seed 003, issue 16 item 2): an entry in the main navigation for
organization users leading to one page with the balance, Buy credits, the account
configuration and the movement history, in that order; the configuration is saved there by the
settings page's rules; the credits and settings pages stay reachable."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from tenants.core.extensions import db
from tenants.jobs.outbox import commit
from tenants.models import AuditEntry, Organization
from tests.conftest import owner_of
from tests.credits.conftest import fund
from tests.credits.test_auto_top_up_form import sign_in, token_from


@pytest.fixture
def app_config(app_config):
    """Real forms: CSRF protection on, as in production."""
    return {**app_config, "WTF_CSRF_ENABLED": True}


def page_url(org_id: str) -> str:
    return f"/organizations/{org_id}/credits/balance"


def save_url(org_id: str) -> str:
    return f"/organizations/{org_id}/credits/balance/configuration"


def configuration(**typed) -> dict:
    fields = {
        "sender_name": "ACME",
        "notification_email": "ops@acme.example",
        "notification_mobile": "+34 600 000 001",
        "low_balance_alert": "yes",
        "low_balance_threshold": "1,500",
        "alert_email": "alerts@acme.example",
    }
    fields.update(typed)
    return {f"configuration-{name}": value for name, value in fields.items()}


def post_configuration(client, org_id: str, token_page: str | None = None, **typed):
    data = configuration(**typed)
    data["configuration-csrf_token"] = token_from(client, token_page or page_url(org_id))
    return client.post(save_url(org_id), data=data)


def settings_of(org_id: str) -> tuple:
    db.session.expire_all()
    org = db.session.get(Organization, org_id)
    return (
        org.sender_name,
        org.notification_email,
        org.low_balance_alert,
        org.low_balance_threshold,
    )


UNCHANGED = (None, None, False, 0)


def positions(html: str, *markers: str) -> list[int]:
    found = [html.find(marker) for marker in markers]
    assert -1 not in found, dict(zip(markers, found, strict=True))
    return found


def test_organization_users_find_it_in_the_main_navigation(app, shop):
    org_id = shop.org.id
    for email in (shop.owner.user.email, shop.member.user.email):
        client = app.test_client()
        sign_in(client, email)
        html = client.get(f"/organizations/{org_id}/").get_data(as_text=True)
        assert f'href="{page_url(org_id)}" id="balance-link">Balance & configuration' in html
    client = app.test_client()
    sign_in(client, shop.staff.email)  # reseller staff reach organizations by the Customer app
    assert 'id="balance-link"' not in client.get("/customers/").get_data(as_text=True)


@pytest.mark.parametrize(
    ("language", "texts"),
    [
        (
            "en",
            (
                "Balance & configuration",
                "Available credits",
                "Purchase SMS Credits",
                "Account configuration",
                "Credit movement history",
            ),
        ),
        (
            "es",
            (
                "Balance y configuración",
                "Créditos disponibles",
                "Comprar créditos SMS",
                "Configuración de la cuenta",
                "Historial de movimientos de créditos",
            ),
        ),
    ],
)
def test_one_page_shows_seed_003s_parts_in_its_order(client, shop, language, texts):
    fund(shop.org, 1200)
    shop.owner.user.language = language
    commit()
    org_id = shop.org.id
    sign_in(client, shop.owner.user.email)
    response = client.get(page_url(org_id))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f'aria-current="page" href="{page_url(org_id)}" id="balance-link"' in html
    # The main navigation's entry is the current page; no section tab claims it.
    assert html.count('aria-current="page"') == 1
    heading, balance, buy, config, history = positions(html, *texts)
    assert heading < balance < buy < config < history
    assert 'id="buy-credits"' in html  # the Buy credits button beside the heading
    assert 'name="configuration-sender_name"' in html  # an owner changes it here
    assert "data-entry=" in html[history:]  # the movement that funded the pool


def test_an_admin_saves_the_configuration_on_the_page(client, shop):
    org_id, admin_id = shop.org.id, shop.admin.user_id
    sign_in(client, shop.admin.user.email)
    response = post_configuration(client, org_id)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"{page_url(org_id)}#configuration")
    assert "Balance &amp; configuration saved." in client.get(page_url(org_id)).get_data(
        as_text=True
    )
    assert settings_of(org_id) == ("ACME", "ops@acme.example", True, 1500)
    entry = db.session.scalars(
        sa.select(AuditEntry).where(
            AuditEntry.organization_id == org_id, AuditEntry.action == "organization.updated"
        )
    ).one()
    assert entry.actor_user_id == admin_id
    assert entry.changes["settings.low_balance_threshold"] == [0, 1500]


def test_bad_input_is_shown_on_the_page_in_spanish_and_changes_nothing(client, shop):
    shop.owner.user.language = "es"
    commit()
    org_id = shop.org.id
    sign_in(client, shop.owner.user.email)
    response = post_configuration(
        client, org_id, notification_email="no es un correo", low_balance_threshold="1,5"
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Balance y configuración" in html and "Historial de movimientos de créditos" in html
    assert 'id="configuration-notification_email-error"' in html
    assert "Ingresa un número entero de créditos." in html
    assert settings_of(org_id) == UNCHANGED


def test_a_post_without_the_csrf_token_changes_nothing(client, shop):
    org_id = shop.org.id
    sign_in(client, shop.owner.user.email)
    assert client.post(save_url(org_id), data=configuration()).status_code == 400
    assert settings_of(org_id) == UNCHANGED


def test_a_plain_member_reads_the_configuration_and_cannot_change_it(client, shop):
    shop.org.sender_name = "ACME"
    commit()
    org_id = shop.org.id
    sign_in(client, shop.member.user.email)
    html = client.get(page_url(org_id)).get_data(as_text=True)
    assert 'name="configuration-sender_name"' not in html
    assert 'data-field="sender-name">ACME<' in html
    assert "Your organization's administrators change the configuration." in html
    assert post_configuration(client, org_id).status_code == 403
    assert settings_of(org_id) == ("ACME", None, False, 0)


def test_another_tenants_organization_is_a_404(client, shop, other_reseller):
    org_id = shop.org.id
    sign_in(client, other_reseller.staff.email)
    assert client.get(page_url(org_id)).status_code == 404
    assert post_configuration(client, org_id, token_page="/customers/").status_code == 404
    assert settings_of(org_id) == UNCHANGED


def test_the_credits_and_settings_pages_stay_reachable(client, shop):
    org_id = shop.org.id
    sign_in(client, shop.owner.user.email)
    credits_page = client.get(f"/organizations/{org_id}/credits/")
    assert credits_page.status_code == 200 and b"Manage SMS Credits" in credits_page.data
    assert client.get(f"/organizations/{org_id}/settings").status_code == 200


def test_filters_and_pages_stay_on_the_page(client, shop):
    fund(shop.org, 10)
    org_id = shop.org.id
    sign_in(client, shop.owner.user.email)
    html = client.get(page_url(org_id) + "?type=purchase").get_data(as_text=True)
    assert f'method="get" action="{page_url(org_id)}"' in html
    assert f'<a href="{page_url(org_id)}">Clear filters</a>' in html


def test_a_postpaid_organization_shows_its_debt_and_credit_limit(
    client, create_priced_reseller, create_organization
):
    org = create_organization(create_priced_reseller(), pricing_model="postpaid")
    org.credit_limit = Decimal("750")
    commit()
    org_id, email = org.id, owner_of(org).user.email
    sign_in(client, email)
    html = client.get(page_url(org_id)).get_data(as_text=True)
    assert 'data-field="debt">€0.00<' in html
    assert 'data-field="credit-limit">€750.00<' in html
    assert 'data-field="auto-top-up"' not in html  # prepaid only
