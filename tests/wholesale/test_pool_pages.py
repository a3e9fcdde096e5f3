"""The wholesale pool's pages and command: the platform adds a lot (typed, confirmed) and
the CLI does too; the reseller sees its pool on its home and sets its alert."""

from __future__ import annotations

import sqlalchemy as sa

from tenants.core.extensions import db
from tenants.models import PlatformRole, ResellerRole, WholesaleLot
from tests.wholesale.conftest import add_lot, pool_credits


def test_the_cli_adds_a_lot_and_prints_the_pool(runner, create_reseller):
    reseller = create_reseller(name="Cli Telecom", pool=0)
    result = runner.invoke(
        args=[
            "reseller",
            "credits",
            "add",
            reseller.slug,
            "5000",
            "--unit-cost",
            "0.020",
            "--currency",
            "EUR",
        ]
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == "5000"
    lot = db.session.scalar(sa.select(WholesaleLot).where(WholesaleLot.reseller_id == reseller.id))
    assert (lot.credits, lot.remaining, str(lot.unit_cost), lot.currency) == (
        5000,
        5000,
        "0.0200",
        "EUR",
    )
    bad = runner.invoke(
        args=[
            "reseller",
            "credits",
            "add",
            reseller.slug,
            "0",
            "--unit-cost",
            "x",
            "--currency",
            "EUR",
        ]
    )
    assert bad.exit_code != 0
    assert "unit_cost" in bad.output
    missing = runner.invoke(
        args=["reseller", "credits", "add", "nobody", "5", "--unit-cost", "1", "--currency", "EUR"]
    )
    assert missing.exit_code != 0


def test_the_platform_admin_adds_a_lot_after_confirming_it(
    client, auth, create_platform_staff, create_reseller
):
    reseller = create_reseller(name="Page Telecom", pool=0)
    admin = create_platform_staff(role=PlatformRole.ADMIN)
    auth.login(admin.email)
    page = client.get(f"/platform/resellers/{reseller.id}/wholesale")
    assert page.status_code == 200
    typed = {"credits": "10,000", "unit_cost": "0.0185", "currency": "EUR"}
    review = client.post(f"/platform/resellers/{reseller.id}/wholesale/review", data=typed)
    assert review.status_code == 200
    assert "10,000" in review.text and pool_credits(reseller) in (None, 0)
    confirm = {"credits": "10000", "unit_cost": "0.0185", "currency": "EUR"}
    done = client.post(f"/platform/resellers/{reseller.id}/wholesale/lots", data=confirm)
    assert done.status_code == 302
    assert pool_credits(reseller) == 10000
    refused = client.post(
        f"/platform/resellers/{reseller.id}/wholesale/review",
        data={"credits": "1.5", "unit_cost": "abc", "currency": "ZZZ"},
    )
    assert refused.status_code == 422


def test_a_reseller_admin_may_not_add_lots_and_sees_the_pool_on_its_home(
    client, auth, create_reseller, create_reseller_staff
):
    reseller = create_reseller(name="Home Telecom", pool=0)
    add_lot(reseller, 1234, "0.020")
    admin = create_reseller_staff(reseller, ResellerRole.ADMIN)
    auth.login(admin.email)
    confirm = {"credits": "10", "unit_cost": "0", "currency": "EUR"}
    assert client.post(
        f"/platform/resellers/{reseller.id}/wholesale/lots", data=confirm
    ).status_code in (403, 404)
    home = client.get("/customers/")
    assert home.status_code == 200
    assert 'data-field="pool-credits">1,234' in home.text
    saved = client.post("/reseller/settings/wholesale", data={"low_balance_threshold": "1,000"})
    assert saved.status_code == 302
    assert "at 1,000 credits" in client.get("/reseller/settings/wholesale").text
    bad = client.post("/reseller/settings/wholesale", data={"low_balance_threshold": "-3"})
    assert bad.status_code == 422
