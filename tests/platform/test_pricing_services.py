"""The price list and tax table services the portal and the JSON API share."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from tenants.core.errors import Forbidden, NotFound, ValidationFailed
from tenants.core.extensions import db
from tenants.jobs.outbox import commit
from tenants.models import AuditEntry, PriceListEntry, PricingModel, TaxRate
from tenants.resellers import pricing

EUR = {"currency": "EUR", "prepaid_unit_price": "0.045", "postpaid_unit_price": "0.050"}
USD = {"currency": "usd", "prepaid_unit_price": Decimal("0.05"), "postpaid_unit_price": 1}


def test_price_list_is_set_and_read_sorted_by_currency(team):
    pricing.set_price_list(team.admin_actor, team.reseller, [USD, EUR])
    commit()
    assert pricing.get_price_list(team.reseller) == [
        {
            "currency": "EUR",
            "prepaid_unit_price": Decimal("0.045"),
            "postpaid_unit_price": Decimal("0.05"),
            "default_credit_limit": Decimal("0.00"),
        },
        {
            "currency": "USD",
            "prepaid_unit_price": Decimal("0.05"),
            "postpaid_unit_price": Decimal("1.00"),
            "default_credit_limit": Decimal("0.00"),
        },
    ]
    assert isinstance(pricing.get_price_list(team.reseller)[0]["prepaid_unit_price"], Decimal)


def test_setting_the_price_list_replaces_it_whole(team):
    pricing.set_price_list(team.admin_actor, team.reseller, [EUR, USD])
    commit()
    pricing.set_price_list(
        team.admin_actor,
        team.reseller,
        [
            {"currency": "GBP", "prepaid_unit_price": "0.04", "postpaid_unit_price": "0.04"},
            {**EUR, "prepaid_unit_price": "0.0399"},
        ],
    )
    commit()
    prices = pricing.get_price_list(team.reseller)
    assert [p["currency"] for p in prices] == ["EUR", "GBP"]
    assert prices[0]["prepaid_unit_price"] == Decimal("0.0399")
    pricing.set_price_list(team.admin_actor, team.reseller, [])
    commit()
    assert pricing.get_price_list(team.reseller) == []


def test_price_list_changes_are_audited_with_before_and_after(team):
    pricing.set_price_list(team.admin_actor, team.reseller, [EUR])
    commit()
    pricing.set_price_list(team.admin_actor, team.reseller, [EUR])  # no change, no entry
    commit()
    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "reseller.price_list_changed")
    ).all()
    assert len(entries) == 1
    assert entries[0].actor_user_id == team.admin.id
    assert entries[0].reseller_id == team.reseller.id
    before, after = entries[0].changes["prices"]
    assert before == []
    assert after == [
        {
            "currency": "EUR",
            "prepaid_unit_price": "0.045",
            "postpaid_unit_price": "0.05",
            "default_credit_limit": "0.00",
        }
    ]


@pytest.mark.parametrize(
    ("row", "field", "words"),
    [
        ({**EUR, "currency": "XYZ"}, "prices[0].currency", "Unknown currency"),
        ({**EUR, "currency": None}, "prices[0].currency", "Unknown currency"),
        ({**EUR, "prepaid_unit_price": "-0.01"}, "prices[0].prepaid_unit_price", "zero or more"),
        ({**EUR, "prepaid_unit_price": "0.00001"}, "prices[0].prepaid_unit_price", "4 decimals"),
        ({**EUR, "postpaid_unit_price": "1000000"}, "prices[0].postpaid_unit_price", "less than"),
        ({**EUR, "postpaid_unit_price": "abc"}, "prices[0].postpaid_unit_price", "number"),
        ({**EUR, "postpaid_unit_price": "NaN"}, "prices[0].postpaid_unit_price", "number"),
        ({**EUR, "postpaid_unit_price": "Infinity"}, "prices[0].postpaid_unit_price", "number"),
        ({**EUR, "postpaid_unit_price": True}, "prices[0].postpaid_unit_price", "number"),
        ({"currency": "EUR"}, "prices[0].prepaid_unit_price", "number"),
        ("EUR", "prices[0]", "object"),
    ],
)
def test_bad_prices_are_refused_naming_the_field(team, row, field, words):
    pricing.set_price_list(team.admin_actor, team.reseller, [EUR])
    commit()
    with pytest.raises(ValidationFailed) as caught:
        pricing.set_price_list(team.admin_actor, team.reseller, [row])
    assert words in caught.value.fields[field]
    db.session.rollback()
    assert [p["currency"] for p in pricing.get_price_list(team.reseller)] == ["EUR"]


def test_every_bad_row_is_reported_at_once(team):
    with pytest.raises(ValidationFailed) as caught:
        pricing.set_price_list(
            team.admin_actor,
            team.reseller,
            [EUR, {**EUR, "prepaid_unit_price": "x"}, {**USD, "currency": "QQQ"}],
        )
    assert set(caught.value.fields) == {
        "prices[1].currency",
        "prices[1].prepaid_unit_price",
        "prices[2].currency",
    }
    assert "more than once" in caught.value.fields["prices[1].currency"]


def test_prices_must_be_a_list(team):
    with pytest.raises(ValidationFailed) as caught:
        pricing.set_price_list(team.admin_actor, team.reseller, {"EUR": "0.04"})
    assert "prices" in caught.value.fields


def test_largest_and_smallest_prices_are_kept_exactly(team):
    pricing.set_price_list(
        team.admin_actor,
        team.reseller,
        [{"currency": "EUR", "prepaid_unit_price": "999999.9999", "postpaid_unit_price": "0"}],
    )
    commit()
    db.session.expire_all()
    entry = db.session.scalar(select(PriceListEntry))
    assert entry.prepaid_unit_price == Decimal("999999.9999")
    assert entry.postpaid_unit_price == Decimal("0")


def test_tax_rates_are_set_replaced_and_read(team):
    pricing.set_tax_rates(
        team.admin_actor,
        team.reseller,
        [{"country": "es", "percent": "21"}, {"country": "MX", "percent": Decimal("16.5")}],
    )
    commit()
    assert pricing.get_tax_rates(team.reseller) == [
        {"country": "ES", "percent": Decimal("21")},
        {"country": "MX", "percent": Decimal("16.5")},
    ]
    pricing.set_tax_rates(team.admin_actor, team.reseller, [{"country": "PT", "percent": "23"}])
    commit()
    assert pricing.get_tax_rates(team.reseller) == [{"country": "PT", "percent": Decimal("23")}]
    assert db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "reseller.tax_rates_changed")
    )


@pytest.mark.parametrize(
    ("row", "field", "words"),
    [
        ({"country": "XX", "percent": "21"}, "tax_rates[0].country", "Unknown country"),
        ({"country": "EU", "percent": "21"}, "tax_rates[0].country", "Unknown country"),
        ({"country": "ES", "percent": "100.01"}, "tax_rates[0].percent", "at most 100"),
        ({"country": "ES", "percent": "-1"}, "tax_rates[0].percent", "zero or more"),
        ({"country": "ES", "percent": "21.0005"}, "tax_rates[0].percent", "3 decimals"),
        ({"country": "ES"}, "tax_rates[0].percent", "number"),
    ],
)
def test_bad_tax_rates_are_refused_naming_the_field(team, row, field, words):
    with pytest.raises(ValidationFailed) as caught:
        pricing.set_tax_rates(team.admin_actor, team.reseller, [row])
    assert words in caught.value.fields[field]


def test_duplicate_country_is_refused(team):
    with pytest.raises(ValidationFailed) as caught:
        pricing.set_tax_rates(
            team.admin_actor,
            team.reseller,
            [{"country": "ES", "percent": "21"}, {"country": "es", "percent": "10"}],
        )
    assert "more than once" in caught.value.fields["tax_rates[1].country"]


def test_unit_price_and_tax_percent_lookups(team):
    pricing.set_price_list(team.admin_actor, team.reseller, [EUR])
    pricing.set_tax_rates(team.admin_actor, team.reseller, [{"country": "ES", "percent": "21"}])
    commit()
    rid = team.reseller.id
    assert pricing.unit_price(rid, "EUR", PricingModel.PREPAID) == Decimal("0.045")
    assert pricing.unit_price(rid, "EUR", "postpaid") == Decimal("0.05")
    assert pricing.unit_price(rid, "USD", PricingModel.PREPAID) is None
    assert pricing.tax_percent(rid, "ES") == Decimal("21")
    assert pricing.tax_percent(rid, "FR") == Decimal("0")


def test_lookups_never_cross_resellers(team, create_team):
    other = create_team("Other Telecom")
    pricing.set_price_list(team.admin_actor, team.reseller, [EUR])
    pricing.set_tax_rates(team.admin_actor, team.reseller, [{"country": "ES", "percent": "21"}])
    commit()
    assert pricing.unit_price(other.reseller.id, "EUR", "prepaid") is None
    assert pricing.tax_percent(other.reseller.id, "ES") == Decimal("0")
    assert pricing.get_price_list(other.reseller) == []


def test_agents_may_not_change_prices_or_taxes(team):
    with pytest.raises(Forbidden):
        pricing.set_price_list(team.agent_actor, team.reseller, [EUR])
    with pytest.raises(Forbidden):
        pricing.set_tax_rates(team.agent_actor, team.reseller, [])


def test_another_resellers_admin_gets_not_found(team, create_team):
    other = create_team("Other Telecom")
    with pytest.raises(NotFound):
        pricing.set_price_list(other.admin_actor, team.reseller, [EUR])
    with pytest.raises(NotFound):
        pricing.set_tax_rates(other.admin_actor, team.reseller, [])
    db.session.rollback()
    assert db.session.scalar(select(PriceListEntry)) is None
    assert db.session.scalar(select(TaxRate)) is None


def test_a_tax_rate_takes_three_decimals(team):
    """New York City's 8.875 % (issue 13: rates were refused past two decimals)."""
    pricing.set_tax_rates(team.admin_actor, team.reseller, [{"country": "US", "percent": "8.875"}])
    assert pricing.tax_percent(team.reseller.id, "US") == Decimal("8.875")
