"""The price list and tax table pages under reseller settings."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tenants.core.extensions import db
from tenants.jobs.outbox import commit
from tenants.resellers import pricing


def test_settings_link_leads_to_the_price_list(admin_client):
    page = admin_client.get("/customers/")
    assert b'id="settings-link"' in page.data
    response = admin_client.get("/reseller/settings/", follow_redirects=True)
    assert response.status_code == 200
    assert b"Price list" in response.data
    assert b"Tax table" in response.data
    assert b"Staff" in response.data


def test_agent_sees_no_settings_link_and_gets_403(client, auth, team):
    auth.login(team.agent.email)
    assert b'id="settings-link"' not in client.get("/customers/").data
    for path in (
        "/reseller/settings/prices",
        "/reseller/settings/taxes",
        "/reseller/settings/staff",
    ):
        assert client.get(path).status_code == 403
    response = client.post(
        "/reseller/settings/prices/add",
        data={"currency": "EUR", "prepaid_unit_price": "1", "postpaid_unit_price": "1"},
    )
    assert response.status_code == 403
    assert pricing.get_price_list(team.reseller) == []


def test_organization_members_get_403(client, auth, create_organization):
    from tests.conftest import owner_of

    org = create_organization()
    auth.login(owner_of(org).user.email)
    assert client.get("/reseller/settings/prices").status_code == 403


def test_admin_adds_edits_and_removes_a_currency(admin_client, team):
    response = admin_client.post(
        "/reseller/settings/prices/add",
        data={"currency": "EUR", "prepaid_unit_price": "0.045", "postpaid_unit_price": "0.05"},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert b"EUR added to the price list." in response.data
    assert b'value="0.045"' in response.data
    response = admin_client.post(
        "/reseller/settings/prices/EUR",
        data={"prepaid_unit_price": "0.04", "postpaid_unit_price": "0.06"},
        follow_redirects=True,
    )
    assert b"The prices in EUR were saved." in response.data
    assert pricing.unit_price(team.reseller.id, "EUR", "prepaid") == Decimal("0.04")
    assert pricing.unit_price(team.reseller.id, "EUR", "postpaid") == Decimal("0.06")
    response = admin_client.post("/reseller/settings/prices/EUR/remove", follow_redirects=True)
    assert b"EUR was removed from the price list." in response.data
    assert pricing.get_price_list(team.reseller) == []


def test_bad_price_shows_a_field_error_and_stores_nothing(admin_client, team):
    response = admin_client.post(
        "/reseller/settings/prices/add",
        data={"currency": "EUR", "prepaid_unit_price": "0.00001", "postpaid_unit_price": "-1"},
    )
    assert response.status_code == 422
    assert b"Use at most 4 decimals." in response.data
    assert b"Must be zero or more." in response.data
    assert pricing.get_price_list(team.reseller) == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"currency": "XYZ", "prepaid_unit_price": "1", "postpaid_unit_price": "1"}, b"Unknown"),
        ({"currency": "", "prepaid_unit_price": "1", "postpaid_unit_price": "1"}, b"required"),
        ({"currency": "EUR", "prepaid_unit_price": "", "postpaid_unit_price": "1"}, b"required"),
        ({"currency": "EUR", "prepaid_unit_price": "x" * 10_000}, b"invalid-feedback"),
        ({"currency": "EUR" * 3000, "prepaid_unit_price": "1", "postpaid_unit_price": "1"}, b"Unk"),
    ],
)
def test_bad_input_never_crashes(admin_client, team, data, message):
    response = admin_client.post("/reseller/settings/prices/add", data=data)
    assert response.status_code == 422
    assert message in response.data
    assert pricing.get_price_list(team.reseller) == []


def test_adding_a_listed_currency_again_is_refused(admin_client, team):
    pricing.set_price_list(
        team.admin_actor,
        team.reseller,
        [{"currency": "EUR", "prepaid_unit_price": "1", "postpaid_unit_price": "1"}],
    )
    commit()
    response = admin_client.post(
        "/reseller/settings/prices/add",
        data={"currency": "EUR", "prepaid_unit_price": "2", "postpaid_unit_price": "2"},
    )
    assert response.status_code == 422
    assert b"listed more than once" in response.data
    assert pricing.unit_price(team.reseller.id, "EUR", "prepaid") == Decimal("1")


def test_bad_row_edit_keeps_the_typed_value_next_to_its_error(admin_client, team):
    pricing.set_price_list(
        team.admin_actor,
        team.reseller,
        [{"currency": "EUR", "prepaid_unit_price": "1", "postpaid_unit_price": "1"}],
    )
    commit()
    response = admin_client.post(
        "/reseller/settings/prices/EUR",
        data={"prepaid_unit_price": "lots", "postpaid_unit_price": "1"},
    )
    assert response.status_code == 422
    assert b'value="lots"' in response.data
    assert b'id="price-EUR-prepaid_unit_price-error"' in response.data


def test_unknown_row_is_404(admin_client):
    response = admin_client.post(
        "/reseller/settings/prices/JPY",
        data={"prepaid_unit_price": "1", "postpaid_unit_price": "1"},
    )
    assert response.status_code == 404
    assert admin_client.post("/reseller/settings/taxes/FR/remove").status_code == 404


def test_spanish_admin_types_decimal_commas_and_reads_spanish(admin_client, team):
    team.admin.language = "es"
    commit()
    response = admin_client.post(
        "/reseller/settings/prices/add",
        data={"currency": "EUR", "prepaid_unit_price": "0,045", "postpaid_unit_price": "0,05"},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert pricing.unit_price(team.reseller.id, "EUR", "prepaid") == Decimal("0.045")
    assert b'value="0,045"' in response.data
    assert b"Lista de precios" in response.data or b"Price list" in response.data


def test_admin_adds_edits_and_removes_a_tax_rate(admin_client, team):
    response = admin_client.post(
        "/reseller/settings/taxes/add",
        data={"country": "ES", "percent": "21"},
        follow_redirects=True,
    )
    assert b"Spain added to the tax table." in response.data
    assert pricing.tax_percent(team.reseller.id, "ES") == Decimal("21")
    admin_client.post("/reseller/settings/taxes/ES", data={"percent": "10.5"})
    assert pricing.tax_percent(team.reseller.id, "ES") == Decimal("10.5")
    page = admin_client.get("/reseller/settings/taxes")
    assert b"Spain" in page.data
    assert b'value="10.5"' in page.data
    response = admin_client.post("/reseller/settings/taxes/ES/remove", follow_redirects=True)
    assert b"Spain was removed from the tax table" in response.data
    assert pricing.tax_percent(team.reseller.id, "ES") == Decimal("0")


def test_country_names_are_localized(admin_client, team):
    pricing.set_tax_rates(team.admin_actor, team.reseller, [{"country": "DE", "percent": "19"}])
    team.admin.language = "es"
    commit()
    page = admin_client.get("/reseller/settings/taxes")
    assert b"Alemania" in page.data


def test_bad_tax_percent_shows_a_field_error(admin_client, team):
    response = admin_client.post(
        "/reseller/settings/taxes/add", data={"country": "ES", "percent": "150"}
    )
    assert response.status_code == 422
    assert b"Must be at most 100." in response.data
    response = admin_client.post(
        "/reseller/settings/taxes/add", data={"country": "QQ", "percent": "10"}
    )
    assert response.status_code == 422
    assert b"Unknown country." in response.data
    assert pricing.get_tax_rates(team.reseller) == []


def test_another_resellers_admin_never_sees_or_changes_this_price_list(
    client, auth, team, create_team
):
    pricing.set_price_list(
        team.admin_actor,
        team.reseller,
        [{"currency": "EUR", "prepaid_unit_price": "0.0451", "postpaid_unit_price": "0.0452"}],
    )
    pricing.set_tax_rates(team.admin_actor, team.reseller, [{"country": "ES", "percent": "21"}])
    commit()
    other = create_team("Other Telecom")
    auth.login(other.admin.email)
    page = client.get("/reseller/settings/prices")
    assert page.status_code == 200
    assert b"0.0451" not in page.data
    assert b'data-country="ES"' not in client.get("/reseller/settings/taxes").data
    # Their own edits never reach reseller A's rows.
    assert client.post("/reseller/settings/prices/EUR/remove").status_code == 404
    assert (
        client.post(
            "/reseller/settings/prices/EUR",
            data={"prepaid_unit_price": "9", "postpaid_unit_price": "9"},
        ).status_code
        == 404
    )
    client.post(
        "/reseller/settings/prices/add",
        data={"currency": "USD", "prepaid_unit_price": "1", "postpaid_unit_price": "1"},
    )
    db.session.expire_all()
    assert [p["currency"] for p in pricing.get_price_list(team.reseller)] == ["EUR"]
    assert pricing.unit_price(team.reseller.id, "EUR", "prepaid") == Decimal("0.0451")
    assert [p["currency"] for p in pricing.get_price_list(other.reseller)] == ["USD"]


def test_platform_admin_has_no_reseller_settings(client, auth, platform_admin):
    auth.login(platform_admin.email)
    assert client.get("/reseller/settings/prices").status_code == 403
