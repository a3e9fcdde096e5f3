"""The margin report (SPEC §4b, issue 19 item 2): two lots at different costs consumed first
in, first out across a month's end, credits given back, revenue net of tax from receipts and
invoices in two currencies — with and without the month's rate — checked against numbers
computed by hand; the rates' verb; the API field by field; the pages and the CSV."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from tenants.access.actors import SYSTEM
from tenants.core.errors import Forbidden, ValidationFailed
from tenants.core.extensions import db
from tenants.jobs.outbox import commit, rollback
from tenants.models import (
    AuditEntry,
    MarginRate,
    ResellerRole,
)
from tenants.wholesale import margin
from tenants.wholesale import operations as wholesale
from tests.api.conftest import Api
from tests.conftest import staff_actor
from tests.wholesale.conftest import OCTOBER


def rows_of(report) -> list[tuple]:
    return [
        (
            row.organization_name,
            row.currency,
            row.credits,
            str(row.revenue),
            None if row.cost is None else str(row.cost),
            row.cost_currency,
            None if row.margin is None else str(row.margin),
            None if row.margin_percent is None else str(row.margin_percent),
            row.converted,
        )
        for row in report.rows
    ]


def totals_of(report) -> list[tuple]:
    return [
        (
            total.currency,
            total.credits,
            str(total.revenue),
            None if total.cost is None else str(total.cost),
            None if total.margin is None else str(total.margin),
        )
        for total in report.totals
    ]


def test_fifo_across_a_month_end_and_two_currencies_without_a_rate(margin_world):
    report = margin.margin_report(margin_world["reseller"].id, OCTOBER)
    assert report.cost_currency == "EUR"
    assert rows_of(report) == [
        ("Acme", "EUR", 650, "27.00", "15.50", "EUR", "11.50", "42.59", True),
        ("Globex", "USD", 200, "30.00", "6.00", "EUR", None, None, False),
        ("Initech", "GBP", 0, "10.00", "0.00", "EUR", None, None, False),
    ]
    assert totals_of(report) == [
        ("EUR", 650, "27.00", "15.50", "11.50"),
        ("GBP", 0, "10.00", "0.00", None),
        ("USD", 200, "30.00", "6.00", None),
    ]
    assert report.currencies == ["GBP", "USD"]
    # September: Acme's 600 of lot A (€12.00) and its €40.00 receipt.
    september = margin.margin_report(margin_world["reseller"].id, "2026-09")
    assert rows_of(september) == [
        ("Acme", "EUR", 600, "40.00", "12.00", "EUR", "28.00", "70.00", True)
    ]
    # November: Globex's 100 of lot B, no revenue: margin -€3.00, no margin %.
    november = margin.margin_report(margin_world["reseller"].id, "2026-11")
    assert rows_of(november) == [("Globex", "USD", 100, "0.00", "3.00", "EUR", "-3.00", None, True)]


def test_a_month_rate_converts_its_currency(margin_world):
    reseller = margin_world["reseller"]
    assert wholesale.set_margin_rate(
        SYSTEM, reseller, period=OCTOBER, currency="USD", rate="0.9"
    ) == Decimal("0.9000")
    commit()
    report = margin.margin_report(reseller.id, OCTOBER)
    assert rows_of(report)[1] == (
        "Globex",
        "USD",
        200,
        "30.00",
        "6.00",
        "EUR",
        "21.00",
        "77.78",
        True,
    )
    assert totals_of(report)[2] == ("USD", 200, "30.00", "6.00", "21.00")
    assert rows_of(report)[2][-1] is False  # GBP: still no rate
    # Another month's rate does not count; clearing it un-converts.
    assert rows_of(margin.margin_report(reseller.id, "2026-11"))[0][-1] is True
    wholesale.set_margin_rate(SYSTEM, reseller, period=OCTOBER, currency="USD", rate=None)
    commit()
    assert rows_of(margin.margin_report(reseller.id, OCTOBER))[1][-3:] == (None, None, False)
    actions = db.session.scalars(
        sa.select(AuditEntry.action).where(AuditEntry.reseller_id == reseller.id)
    ).all()
    assert actions.count("wholesale.margin_rate_changed") == 2


def test_a_lot_bought_in_another_currency_is_converted_at_its_rate_or_not_at_all(
    client, two_currency_world, create_api_key
):
    """two_currency_world's figures, by hand: without a EUR rate, Acme's cost is not known
    (never €2.00 + $6.00 summed as $8.00); at 1.1 it is 2.00 x 1.1 + 6.00 = $8.20, revenue
    $19.80, margin $11.60, 58.59 %. Globex is converted all along: $3.50, 70.00 %."""
    reseller = two_currency_world
    report = margin.margin_report(reseller.id, OCTOBER)
    assert report.cost_currency == "USD"
    assert report.currencies == ["EUR"]  # the lot's currency needs a rate too
    assert rows_of(report) == [
        ("Acme", "EUR", 300, "18.00", None, "USD", None, None, False),
        ("Globex", "USD", 50, "5.00", "1.50", "USD", "3.50", "70.00", True),
    ]
    assert totals_of(report) == [
        ("EUR", 300, "18.00", None, None),
        ("USD", 50, "5.00", "1.50", "3.50"),
    ]
    api = Api(client)
    key = create_api_key(reseller)
    answer = api.get("/reseller/margin", key, query={"period": OCTOBER})
    assert answer.status_code == 200
    assert answer.json["rows"][0]["cost"] is None
    assert answer.json["totals"][0]["cost"] is None

    wholesale.set_margin_rate(SYSTEM, reseller, period=OCTOBER, currency="EUR", rate="1.1")
    commit()
    report = margin.margin_report(reseller.id, OCTOBER)
    assert rows_of(report) == [
        ("Acme", "EUR", 300, "18.00", "8.20", "USD", "11.60", "58.59", True),
        ("Globex", "USD", 50, "5.00", "1.50", "USD", "3.50", "70.00", True),
    ]
    assert totals_of(report) == [
        ("EUR", 300, "18.00", "8.20", "11.60"),
        ("USD", 50, "5.00", "1.50", "3.50"),
    ]
    answer = api.get("/reseller/margin", key, query={"period": OCTOBER})
    assert answer.json["rows"][0]["cost"] == "8.20"
    assert answer.json["rows"][0]["margin"] == "11.60"


@pytest.mark.parametrize(
    ("period", "currency", "rate", "field"),
    [
        ("2026-13", "USD", "1", "period"),
        ("x", "USD", "1", "period"),
        (OCTOBER, "ZZZ", "1", "currency"),
        (OCTOBER, "EUR", "1", "currency"),  # the lots' own currency
        (OCTOBER, "USD", "0", "rate"),
        (OCTOBER, "USD", "-1", "rate"),
        (OCTOBER, "USD", "1.00001", "rate"),
        (OCTOBER, "USD", "abc", "rate"),
        (OCTOBER, "USD", "1e400", "rate"),
    ],
)
def test_the_rates_verb_refuses_bad_values(margin_world, period, currency, rate, field):
    with pytest.raises(ValidationFailed) as refused:
        wholesale.set_margin_rate(
            SYSTEM, margin_world["reseller"], period=period, currency=currency, rate=rate
        )
    rollback()
    assert field in refused.value.fields
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MarginRate)) == 0


def test_only_reseller_admins_set_rates(margin_world, create_reseller_staff):
    agent = create_reseller_staff(margin_world["reseller"], ResellerRole.AGENT)
    actor = staff_actor(margin_world["reseller"], agent, ResellerRole.AGENT)
    with pytest.raises(Forbidden):
        wholesale.set_margin_rate(
            actor, margin_world["reseller"], period=OCTOBER, currency="USD", rate="1"
        )
    rollback()


# -- the API -------------------------------------------------------------------------------


def test_api_margin_field_by_field(client, margin_world):
    api = Api(client)
    wholesale.set_margin_rate(
        SYSTEM, margin_world["reseller"], period=OCTOBER, currency="USD", rate="0.9"
    )
    commit()
    answer = api.get("/reseller/margin", margin_world["key"], query={"period": OCTOBER})
    assert answer.status_code == 200
    assert answer.json == {
        "period": OCTOBER,
        "rows": [
            {
                "organization_id": margin_world["acme"].id,
                "currency": "EUR",
                "credits": 650,
                "revenue": "27.00",
                "cost": "15.50",
                "cost_currency": "EUR",
                "margin": "11.50",
                "margin_percent": "42.59",
            },
            {
                "organization_id": margin_world["globex"].id,
                "currency": "USD",
                "credits": 200,
                "revenue": "30.00",
                "cost": "6.00",
                "cost_currency": "EUR",
                "margin": "21.00",
                "margin_percent": "77.78",
            },
            {
                "organization_id": margin_world["initech"].id,
                "currency": "GBP",
                "credits": 0,
                "revenue": "10.00",
                "cost": "0.00",
                "cost_currency": "EUR",
                "margin": None,
                "margin_percent": None,
            },
        ],
        "totals": [
            {
                "currency": "EUR",
                "credits": 650,
                "revenue": "27.00",
                "cost": "15.50",
                "margin": "11.50",
            },
            {"currency": "GBP", "credits": 0, "revenue": "10.00", "cost": "0.00", "margin": None},
            {
                "currency": "USD",
                "credits": 200,
                "revenue": "30.00",
                "cost": "6.00",
                "margin": "21.00",
            },
        ],
    }


def test_api_margin_refuses_bad_periods_in_the_readers_language(client, margin_world):
    api = Api(client)
    for bad in ("2026-13", "26-10", "2026-1", "x" * 30, "1999-12"):
        answer = api.get("/reseller/margin", margin_world["key"], query={"period": bad})
        assert answer.status_code == 422, bad
        assert "period" in str(answer.json), bad
    spanish = api.get(
        "/reseller/margin",
        margin_world["key"],
        query={"period": "2026-13"},
        headers={"Accept-Language": "es"},
    )
    assert spanish.status_code == 422
    assert spanish.json["error"]["fields"] == {
        "period": "Indica un mes como AAAA-MM, p. ej. 2026-10."
    }
    assert api.get("/reseller/margin", margin_world["key"], query={"nope": "1"}).status_code == 422


def test_api_margin_is_for_reseller_keys_and_their_own_customers(client, margin_world):
    api = Api(client)
    assert api.get(
        "/reseller/margin", margin_world["org_key"], query={"period": OCTOBER}
    ).status_code in (
        403,
        404,
    )
    assert api.get("/reseller/margin", None, query={"period": OCTOBER}).status_code == 401
    other = api.get("/reseller/margin", margin_world["other_key"], query={"period": OCTOBER})
    assert other.status_code == 200
    assert other.json == {"period": OCTOBER, "rows": [], "totals": []}
    current = api.get("/reseller/margin", margin_world["key"])
    assert current.status_code == 200 and len(current.json["period"]) == 7


def test_openapi_declares_the_margin_endpoint(client):
    spec = client.get("/api/v1/openapi.json").json
    operation = spec["paths"]["/api/v1/reseller/margin"]["get"]
    assert any(parameter["name"] == "period" for parameter in operation["parameters"])
