"""A postpaid organization's movements carry the balance its account shows (SPEC §7): usage
is billed, not deducted, so the system account stays at 0 and so does every postpaid
movement's ``balance_after`` — after single usage, batch usage, the monthly invoice and a
payment, through the API as a reseller's system reads them."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from sqlalchemy import select

from tenants.access.actors import SYSTEM
from tenants.billing import monthly_run
from tenants.core.extensions import db
from tenants.jobs.outbox import commit
from tenants.models import AccountKind, CreditAccount


@pytest.fixture
def key(app, reseller):
    from tenants.api_keys.operations import create_api_key

    _key, secret = create_api_key(SYSTEM, reseller=reseller, name="billing")
    commit()
    return secret


def call(client, method: str, path: str, key: str, body=None):
    return client.open(
        f"/api/v1{path}",
        method=method,
        data=None if body is None else json.dumps(body),
        headers={"Authorization": f"Bearer {key}"},
        content_type="application/json",
    )


def shown(client, org, key) -> tuple[int, list[int | None]]:
    """The balance API's system credits, and each movement's balance_after (newest first)."""
    balance = call(client, "GET", f"/organizations/{org.id}/balance", key)
    movements = call(client, "GET", f"/organizations/{org.id}/movements", key)
    assert balance.status_code == movements.status_code == 200
    return balance.json["system_credits"], [e["balance_after"] for e in movements.json["data"]]


def account_row(org) -> int:
    db.session.expire_all()
    return db.session.scalar(
        select(CreditAccount.balance).where(
            CreditAccount.organization_id == org.id, CreditAccount.kind == AccountKind.SYSTEM
        )
    )


def test_postpaid_movements_show_the_balance_the_account_shows(clock, client, create_postpaid, key):
    org = create_postpaid(limit="1000")
    october = datetime(2026, 10, 30, 9, 0).isoformat() + "Z"

    one = call(
        client,
        "POST",
        f"/organizations/{org.id}/usage",
        key,
        {"credits": 200, "reference": "single-1", "occurred_at": october},
    )
    assert one.status_code == 201, one.get_data(as_text=True)
    system, after = shown(client, org, key)
    assert one.json["balance_after"] == system == account_row(org) == 0
    assert after == [system]

    events = [
        {"organization_id": org.id, "credits": credits, "reference": f"batch-{credits}"}
        for credits in (30, 70)
    ]
    for event in events:
        event["occurred_at"] = october
    batch = call(client, "POST", "/usage", key, {"events": events})
    assert (batch.status_code, batch.json["accepted"]) == (200, 2), batch.get_data(as_text=True)
    system, after = shown(client, org, key)
    assert after == [system] * 3

    monthly_run.run_monthly("2026-10", now=clock.now)
    system, after = shown(client, org, key)
    assert len(after) == 4  # the invoice's movement too
    assert after == [system] * 4 and system == account_row(org) == 0

    paid = call(client, "POST", f"/organizations/{org.id}/payments", key, {"amount": "5.00"})
    assert paid.status_code == 201, paid.get_data(as_text=True)
    system, after = shown(client, org, key)
    assert after == [system] * 5 and system == account_row(org) == 0
