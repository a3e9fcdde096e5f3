"""A campaign submitted for approval emails each of the reseller's admins (not its agents, not
the organization) through the outbox's jobs: once per submission — scheduling it, or
changing it so it waits again — in each admin's own language, with a link to decide."""

from __future__ import annotations

import pytest

from tenants.access.actors import SYSTEM
from tenants.billing.usage import record_usage
from tenants.campaigns import operations as campaigns
from tenants.core.errors import InsufficientCredits
from tenants.jobs.outbox import commit, rollback
from tenants.models import ResellerRole
from tests.campaigns.conftest import schedule
from tests.conftest import new_reference, text_of
from tests.jobs.conftest import outbox

ADA, BEA = "ada@camp.example", "bea@camp.example"


@pytest.fixture
def approving(shop, create_reseller_staff):
    shop.reseller.campaigns_need_approval = True
    create_reseller_staff(shop.reseller, ResellerRole.ADMIN, email=ADA, name="Ada")
    create_reseller_staff(shop.reseller, ResellerRole.ADMIN, email=BEA, name="Bea", language="es")
    commit()
    return shop


def requests(app, address: str | None = None) -> list:
    return [
        m
        for m in outbox(app, address)
        if "approval" in m["Subject"] or "aprobación" in m["Subject"]
    ]


def test_each_admin_is_asked_once_in_their_language(app, approving):
    campaign = schedule(approving)
    [english] = requests(app, ADA)
    assert english["Subject"] == "Campaign waiting for your approval: Promo (Acme)"
    body = text_of(english)
    assert "Acme submitted the campaign Promo for your approval." in body
    assert f"/organizations/{approving.acme.id}/campaigns/{campaign.id}" in body
    assert "/customers/campaigns" in body
    [spanish] = requests(app, BEA)
    assert spanish["Subject"] == "Campaña pendiente de tu aprobación: Promo (Acme)"
    assert requests(app, approving.rita.email) == []  # an agent approves, but is not emailed
    assert requests(app, "notices@acme.example") == []
    assert len(requests(app)) == 2


def test_a_change_is_a_new_submission(app, approving):
    campaign = schedule(approving)
    campaigns.approve_campaign(approving.staff, approving.acme, campaign)
    commit()
    campaigns.update_campaign(approving.actor, approving.acme, campaign, text="New words")
    commit()
    assert len(requests(app, ADA)) == 2 and len(requests(app, BEA)) == 2


def test_no_request_without_a_submission(app, approving, shop):
    schedule(shop, actor=shop.staff)  # the reseller's own: no approval needed
    record_usage(SYSTEM, shop.acme, credits=95, reference=new_reference())  # 2 available
    commit()
    with pytest.raises(InsufficientCredits):
        schedule(shop)  # refused: nothing submitted
    rollback()
    shop.reseller.campaigns_need_approval = False
    commit()
    assert requests(app) == []


def test_a_campaign_decided_before_the_email_leaves_asks_no_one(app, approving):
    from tenants.campaigns.notices import deliver_approval_request

    campaign = schedule(approving)
    campaigns.cancel_campaign(approving.actor, approving.acme, campaign)
    commit()
    before = len(requests(app))
    deliver_approval_request(campaign.id, approving.rita.id)  # a late or retried job
    assert len(requests(app)) == before
