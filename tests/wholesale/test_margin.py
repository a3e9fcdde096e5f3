"""The margin report (SPEC §4b, issue 19 item 2): two lots at different costs consumed first
in, first out across a month's end, credits given back, revenue net of tax from receipts and
invoices in two currencies — with and without the month's rate — checked against numbers
computed by hand; the rates' verb; the API field by field; the pages and the CSV."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tenants.access.actors import SYSTEM
from tenants.core.errors import Forbidden, ValidationFailed
from tenants.core.extensions import db
from tenants.jobs.outbox import commit, rollback
from tenants.models import (
    AuditEntry,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    MarginRate,
    ResellerRole,
)
from tenants.wholesale import margin
from tenants.wholesale import operations as wholesale
from tests.api.conftest import Api
from tests.conftest import staff_actor
from tests.wholesale.conftest import add_lot

OCTOBER = "2026-10"


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def draw(monkeypatch, reseller, org, credits: int, when: datetime) -> None:
    """``org`` receives (positive) or gives back (negative) ``credits`` at ``when``."""
    monkeypatch.setattr(wholesale, "utcnow", lambda: when)
    wholesale.move_pool(reseller.id, [(org.id, -credits)])
    commit()
    monkeypatch.undo()


def issue(org, kind, subtotal: str, when: datetime, *, currency=None, status=None) -> None:
    """A receipt or invoice of ``subtotal`` (net) + 21 % tax issued at ``when``."""
    net = Decimal(subtotal)
    tax = (net * Decimal("0.21")).quantize(Decimal("0.01"))
    sequence = (
        db.session.scalar(
            sa.select(sa.func.coalesce(sa.func.max(Invoice.sequence), 0)).where(
                Invoice.reseller_id == org.reseller_id
            )
        )
        + 1
    )
    db.session.add(
        Invoice(
            reseller_id=org.reseller_id,
            organization_id=org.id,
            sequence=sequence,
            number=f"T-{sequence}",
            kind=kind,
            period=when.strftime("%Y-%m") if kind == InvoiceKind.INVOICE else None,
            status=status or InvoiceStatus.PAID,
            currency=currency or org.currency,
            subtotal=net,
            tax_percent=Decimal(21),
            tax=tax,
            total=net + tax,
            billing={},
            issued_at=when,
            lines=(InvoiceLine(quantity=1, unit_price=net, amount=net),),
        )
    )
    commit()


@pytest.fixture
def world(monkeypatch, create_priced_reseller, create_organization, create_api_key):
    """Lot A: 1,000 at €0.020, then lot B: 1,000 at €0.030. By hand, for October 2026 (UTC):

    Acme (EUR): 600 drawn on 30 Sep 23:00 (A) — September. 1 Oct 00:30: 700 = 400 of A
    (€8.00) + 300 of B (€9.00); 15 Oct: 100 given back, to B (-€3.00); 31 Oct 23:59:59: 50
    of B (€1.50). Credits 650, cost €15.50. Revenue: receipt €18.00 (5 Oct) + invoice
    €9.00 (31 Oct) = €27.00; a void receipt and September's receipt do not count. Margin
    €11.50, 11.50 / 27 = 42.59 %.
    Globex (USD): 200 of B on 20 Oct (€6.00); 100 more on 1 Nov 00:00 — November. Revenue
    $30.00. Without a rate: not converted. At 0.9: €27.00 - €6.00 = €21.00, 77.78 %.
    Initech (GBP): no draws, a £10.00 receipt, never a rate: not converted.
    """
    reseller = create_priced_reseller(name="Margin Telecom", pool=0)
    monkeypatch.setattr(wholesale, "utcnow", lambda: at(2026, 9, 1))
    add_lot(reseller, 1000, "0.020")
    monkeypatch.setattr(wholesale, "utcnow", lambda: at(2026, 9, 2))
    add_lot(reseller, 1000, "0.030")
    monkeypatch.undo()
    acme = create_organization(reseller, name="Acme", currency="EUR", owner_password=None)
    globex = create_organization(reseller, name="Globex", currency="USD", owner_password=None)
    initech = create_organization(reseller, name="Initech", currency="GBP", owner_password=None)
    draw(monkeypatch, reseller, acme, 600, at(2026, 9, 30, 23))
    draw(monkeypatch, reseller, acme, 700, at(2026, 10, 1, 0, 30))
    draw(monkeypatch, reseller, acme, -100, at(2026, 10, 15, 12))
    draw(monkeypatch, reseller, globex, 200, at(2026, 10, 20, 9))
    draw(monkeypatch, reseller, acme, 50, at(2026, 10, 31, 23, 59, 59))
    draw(monkeypatch, reseller, globex, 100, at(2026, 11, 1, 0, 0))
    issue(acme, InvoiceKind.RECEIPT, "40.00", at(2026, 9, 30, 22))
    issue(acme, InvoiceKind.RECEIPT, "18.00", at(2026, 10, 5, 10))
    issue(acme, InvoiceKind.RECEIPT, "99.00", at(2026, 10, 6), status=InvoiceStatus.VOID)
    issue(acme, InvoiceKind.INVOICE, "9.00", at(2026, 10, 31, 23, 30))
    issue(globex, InvoiceKind.RECEIPT, "30.00", at(2026, 10, 20, 9))
    issue(initech, InvoiceKind.RECEIPT, "10.00", at(2026, 10, 21))
    other = create_priced_reseller(name="Other Telecom", pool=0)
    return {
        "reseller": reseller,
        "acme": acme,
        "globex": globex,
        "initech": initech,
        "other": other,
        "key": create_api_key(reseller),
        "other_key": create_api_key(other),
        "org_key": create_api_key(organization=acme),
    }


def rows_of(report) -> list[tuple]:
    return [
        (
            row.organization_name,
            row.currency,
            row.credits,
            str(row.revenue),
            str(row.cost),
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
            str(total.cost),
            None if total.margin is None else str(total.margin),
        )
        for total in report.totals
    ]


def test_fifo_across_a_month_end_and_two_currencies_without_a_rate(world):
    report = margin.margin_report(world["reseller"].id, OCTOBER)
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
    september = margin.margin_report(world["reseller"].id, "2026-09")
    assert rows_of(september) == [
        ("Acme", "EUR", 600, "40.00", "12.00", "EUR", "28.00", "70.00", True)
    ]
    # November: Globex's 100 of lot B, no revenue: margin -€3.00, no margin %.
    november = margin.margin_report(world["reseller"].id, "2026-11")
    assert rows_of(november) == [("Globex", "USD", 100, "0.00", "3.00", "EUR", "-3.00", None, True)]


def test_a_month_rate_converts_its_currency(world):
    reseller = world["reseller"]
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
def test_the_rates_verb_refuses_bad_values(world, period, currency, rate, field):
    with pytest.raises(ValidationFailed) as refused:
        wholesale.set_margin_rate(
            SYSTEM, world["reseller"], period=period, currency=currency, rate=rate
        )
    rollback()
    assert field in refused.value.fields
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MarginRate)) == 0


def test_only_reseller_admins_set_rates(world, create_reseller_staff):
    agent = create_reseller_staff(world["reseller"], ResellerRole.AGENT)
    actor = staff_actor(world["reseller"], agent, ResellerRole.AGENT)
    with pytest.raises(Forbidden):
        wholesale.set_margin_rate(
            actor, world["reseller"], period=OCTOBER, currency="USD", rate="1"
        )
    rollback()


# -- the API -------------------------------------------------------------------------------


def test_api_margin_field_by_field(client, world):
    api = Api(client)
    wholesale.set_margin_rate(SYSTEM, world["reseller"], period=OCTOBER, currency="USD", rate="0.9")
    commit()
    answer = api.get("/reseller/margin", world["key"], query={"period": OCTOBER})
    assert answer.status_code == 200
    assert answer.json == {
        "period": OCTOBER,
        "rows": [
            {
                "organization_id": world["acme"].id,
                "currency": "EUR",
                "credits": 650,
                "revenue": "27.00",
                "cost": "15.50",
                "cost_currency": "EUR",
                "margin": "11.50",
                "margin_percent": "42.59",
            },
            {
                "organization_id": world["globex"].id,
                "currency": "USD",
                "credits": 200,
                "revenue": "30.00",
                "cost": "6.00",
                "cost_currency": "EUR",
                "margin": "21.00",
                "margin_percent": "77.78",
            },
            {
                "organization_id": world["initech"].id,
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


def test_api_margin_refuses_bad_periods_in_the_readers_language(client, world):
    api = Api(client)
    for bad in ("2026-13", "26-10", "2026-1", "x" * 30, "1999-12"):
        answer = api.get("/reseller/margin", world["key"], query={"period": bad})
        assert answer.status_code == 422, bad
        assert "period" in str(answer.json), bad
    spanish = api.get(
        "/reseller/margin",
        world["key"],
        query={"period": "2026-13"},
        headers={"Accept-Language": "es"},
    )
    assert spanish.status_code == 422
    assert "AAAA-MM" in str(spanish.json) or "YYYY-MM" not in str(spanish.json)
    assert api.get("/reseller/margin", world["key"], query={"nope": "1"}).status_code == 422


def test_api_margin_is_for_reseller_keys_and_their_own_customers(client, world):
    api = Api(client)
    assert api.get("/reseller/margin", world["org_key"], query={"period": OCTOBER}).status_code in (
        403,
        404,
    )
    assert api.get("/reseller/margin", None, query={"period": OCTOBER}).status_code == 401
    other = api.get("/reseller/margin", world["other_key"], query={"period": OCTOBER})
    assert other.status_code == 200
    assert other.json == {"period": OCTOBER, "rows": [], "totals": []}
    current = api.get("/reseller/margin", world["key"])
    assert current.status_code == 200 and len(current.json["period"]) == 7


def test_openapi_declares_the_margin_endpoint(client):
    spec = client.get("/api/v1/openapi.json").json
    operation = spec["paths"]["/api/v1/reseller/margin"]["get"]
    assert any(parameter["name"] == "period" for parameter in operation["parameters"])
