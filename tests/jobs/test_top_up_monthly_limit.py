"""The organization's own monthly limit of automatic top-ups (``auto_top_up.monthly_limit``,
set in Settings or by API): past it a top-up is not made and the failure is told, as with the
platform's ceiling."""

from __future__ import annotations

import sqlalchemy as sa

from tenants.core.extensions import db
from tenants.credits import ledger, topups
from tenants.jobs.outbox import commit
from tenants.models import Purchase
from tenants.organizations import operations as organizations
from tests.conftest import member_actor, text_of
from tests.credits.conftest import fund
from tests.jobs.conftest import use

GOOD_CARD = "4242 4242 4242 4242"


def automatic_purchases(org_id: str) -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Purchase)
        .where(Purchase.organization_id == org_id, Purchase.automatic.is_(True))
    )


def test_the_organizations_own_limit_stops_the_second_top_up_of_the_month(app, shop, smtp_server):
    owner = member_actor(shop.owner)
    topups.save_card(owner, shop.org, {"card_number": GOOD_CARD})
    organizations.update_organization(
        owner,
        shop.org,
        {
            "auto_top_up.enabled": True,
            "auto_top_up.below": 100,
            "auto_top_up.credits": 1000,
            "auto_top_up.monthly_limit": 1,
        },
    )
    shop.org.low_balance_alert = False
    commit()
    assert app.config["AUTO_TOP_UP_MONTHLY_CAP"] == 10  # the platform would allow more
    org_id = shop.org.id
    fund(shop.org, 150)
    use(shop.org, 100)  # 50: top-up 1 -> 1050
    use(shop.org, 1000)  # 50: the organization's limit of 1 is reached
    assert automatic_purchases(org_id) == 1
    assert ledger.balance(shop.org).system_credits == 50
    told = [m for m in smtp_server.wait_for(3) if "owner@acme.example" in str(m["To"])]
    assert any("The monthly limit of 1 automatic top-up was reached." in text_of(m) for m in told)
