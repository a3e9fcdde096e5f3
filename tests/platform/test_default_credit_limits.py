"""The reseller's default credit limit per currency, kept with the price list entry of that
currency: set on the price list page (read as the reader writes amounts) and by the
service, kept when a row leaves it out, applied to new postpaid organizations."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tenants.access.actors import SYSTEM
from tenants.core.errors import ValidationFailed
from tenants.jobs.outbox import commit, rollback
from tenants.organizations.operations import NewOrganization, create_organization
from tenants.resellers import pricing

EUR = {"currency": "EUR", "prepaid_unit_price": "0.045", "postpaid_unit_price": "0.05"}


def limits(reseller) -> dict[str, Decimal]:
    return {
        row["currency"]: row["default_credit_limit"] for row in pricing.get_price_list(reseller)
    }


def test_the_default_is_set_per_currency_and_kept_when_a_row_leaves_it_out(team):
    pricing.set_price_list(
        team.admin_actor,
        team.reseller,
        [{**EUR, "default_credit_limit": "1500"}, {**EUR, "currency": "JPY"}],
    )
    commit()
    assert limits(team.reseller) == {"EUR": Decimal("1500.00"), "JPY": Decimal("0")}
    pricing.set_price_list(team.admin_actor, team.reseller, [{**EUR, "prepaid_unit_price": "0.04"}])
    commit()
    assert limits(team.reseller) == {"EUR": Decimal("1500.00")}
    assert pricing.default_credit_limit(team.reseller.id, "eur") == Decimal("1500")
    assert pricing.default_credit_limit(team.reseller.id, "USD") == Decimal("0")


@pytest.mark.parametrize(
    ("row", "words"),
    [
        ({**EUR, "default_credit_limit": "-1"}, "between 0 and 99,999,999"),
        ({**EUR, "default_credit_limit": "100000000"}, "between 0 and 99,999,999"),
        ({**EUR, "default_credit_limit": "10.001"}, "at most 2 decimals"),
        ({**EUR, "currency": "JPY", "default_credit_limit": "10.5"}, "at most 0 decimals"),
        ({**EUR, "default_credit_limit": "lots"}, "Enter an amount"),
        ({**EUR, "default_credit_limit": 10.5}, "Enter an amount"),
    ],
)
def test_a_bad_default_is_refused_with_its_path(team, row, words):
    with pytest.raises(ValidationFailed) as refused:
        pricing.set_price_list(team.admin_actor, team.reseller, [row])
    rollback()
    assert words in refused.value.fields["prices[0].default_credit_limit"]
    assert pricing.get_price_list(team.reseller) == []


def test_every_problem_of_a_row_is_reported_at_once(team):
    row = {"currency": "EUR", "prepaid_unit_price": "-1", "postpaid_unit_price": "0.05"}
    with pytest.raises(ValidationFailed) as refused:
        pricing.set_price_list(
            team.admin_actor, team.reseller, [{**row, "default_credit_limit": "-1"}]
        )
    rollback()
    assert set(refused.value.fields) == {
        "prices[0].prepaid_unit_price",
        "prices[0].default_credit_limit",
    }


def test_the_service_gives_new_postpaid_organizations_the_default(team):
    pricing.set_price_list(
        team.admin_actor, team.reseller, [{**EUR, "default_credit_limit": "900"}]
    )
    commit()

    def new(pricing_model, **extra):
        data = NewOrganization(
            name="Acme SL",
            country="ES",
            pricing_model=pricing_model,
            owner_name="Ana",
            owner_email=f"ana-{pricing_model}-{len(extra)}@acme.example",
            **extra,
        )
        org = create_organization(SYSTEM, team.reseller, data)
        commit()
        return org

    assert new("postpaid").credit_limit == Decimal("900")
    assert new("prepaid").credit_limit == Decimal("0")
    assert new("postpaid", credit_limit="250.50").credit_limit == Decimal("250.50")
    assert new("postpaid", credit_limit=Decimal("0")).credit_limit == Decimal("0")


# -- the price list page ---------------------------------------------------------------------


def test_admin_sets_the_default_on_the_price_list_page(admin_client, team):
    response = admin_client.post(
        "/reseller/settings/prices/add",
        data={
            "currency": "EUR",
            "prepaid_unit_price": "0.045",
            "postpaid_unit_price": "0.05",
            "default_credit_limit": "1,500",
        },
        follow_redirects=True,
    )
    assert b"EUR added to the price list." in response.data
    assert b'value="1500.00"' in response.data and b"Default credit limit" in response.data
    assert limits(team.reseller) == {"EUR": Decimal("1500")}


@pytest.mark.parametrize(
    ("language", "typed", "limit"),
    [
        ("en", "2,000.50", Decimal("2000.50")),
        ("es", "2.000,50", Decimal("2000.50")),
        ("en", "1,000", Decimal("1000")),
        ("es", "1.000", Decimal("1000")),
        ("en", "", Decimal("0")),
    ],
)
def test_the_default_is_read_as_the_reader_writes_it(admin_client, team, language, typed, limit):
    pricing.set_price_list(team.admin_actor, team.reseller, [{**EUR, "default_credit_limit": "5"}])
    team.admin.language = language
    commit()
    prices = ("0.045", "0.05") if language == "en" else ("0,045", "0,05")
    response = admin_client.post(
        "/reseller/settings/prices/EUR",
        data={
            "prepaid_unit_price": prices[0],
            "postpaid_unit_price": prices[1],
            "default_credit_limit": typed,
        },
    )
    assert response.status_code == 302
    assert limits(team.reseller) == {"EUR": limit}
    page = admin_client.get("/reseller/settings/prices").get_data(as_text=True)
    shown = f"{limit:.2f}" if language == "en" else f"{limit:.2f}".replace(".", ",")
    assert f'value="{shown}"' in page


@pytest.mark.parametrize(
    ("language", "data", "messages"),
    [
        ("en", {"default_credit_limit": "1.000"}, ["Use at most 2 decimals."]),
        ("es", {"default_credit_limit": "1,000"}, ["Usa como máximo 2 decimales."]),
        ("en", {"default_credit_limit": "1,5"}, ["Write the amount like 1,234.56."]),
        (
            "en",
            {"prepaid_unit_price": "0,045", "default_credit_limit": "-3"},
            ["Write the amount like 1,234.56.", "Enter an amount between 0 and 99,999,999."],
        ),
        ("es", {"prepaid_unit_price": "0.045"}, ["Escribe el importe así: 1.234,56."]),
    ],
)
def test_an_unreadable_number_is_refused_next_to_its_field(
    admin_client, team, language, data, messages
):
    pricing.set_price_list(team.admin_actor, team.reseller, [{**EUR, "default_credit_limit": "5"}])
    team.admin.language = language
    commit()
    typed = {"prepaid_unit_price": "1", "postpaid_unit_price": "1", **data}
    response = admin_client.post("/reseller/settings/prices/EUR", data=typed)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    for message in messages:
        assert message in html
    assert limits(team.reseller) == {"EUR": Decimal("5")}
    assert pricing.unit_price(team.reseller.id, "EUR", "prepaid") == Decimal("0.045")


@pytest.mark.parametrize(
    ("language", "typed", "percent"),
    [
        ("en", "8.875", Decimal("8.875")),
        ("es", "8,875", Decimal("8.875")),
        ("es", "21", Decimal("21")),
    ],
)
def test_tax_rates_are_read_as_the_reader_writes_them(admin_client, team, language, typed, percent):
    team.admin.language = language
    commit()
    response = admin_client.post(
        "/reseller/settings/taxes/add", data={"country": "US", "percent": typed}
    )
    assert response.status_code == 302
    assert pricing.tax_percent(team.reseller.id, "US") == percent


@pytest.mark.parametrize(
    ("language", "typed"), [("en", "8,875"), ("es", "8.875,0001"), ("en", "1e1")]
)
def test_an_unreadable_tax_rate_is_refused(admin_client, team, language, typed):
    team.admin.language = language
    commit()
    response = admin_client.post(
        "/reseller/settings/taxes/add", data={"country": "US", "percent": typed}
    )
    assert response.status_code == 422
    assert b'id="percent-error"' in response.data
    assert pricing.get_tax_rates(team.reseller) == []
