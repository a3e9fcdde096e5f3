"""The portal's campaigns: the Campaigns tab, scheduling from the form (the time read in the
organization's timezone, refusals next to their fields), the list with next run and
reserved credits, cancelling; the reseller's staff approve or reject from the campaign's
page and find pending ones in the Customer app; in English and Spanish."""

from __future__ import annotations

import re
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest

from tenants.core.extensions import db
from tenants.jobs.outbox import commit
from tenants.models import Campaign, CampaignStatus, ResellerRole
from tests.campaigns.conftest import next_run, reserved, schedule
from tests.conftest import PASSWORD, owner_of


def text_of(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def url(org, path: str = "") -> str:
    return f"/organizations/{org.id}/campaigns/{path}"


@pytest.fixture
def owner(client, auth, shop):
    auth.login(shop.owner.user.email, PASSWORD)
    return client


def form(shop, **extra):
    day = date.today() + timedelta(days=3)
    return {
        "name": "Spring sale",
        "list_id": shop.customers.id,
        "text": "Hello",
        "start_date": day.isoformat(),
        "start_time": "09:30",
        "repeat": "weekly",
        "until": (day + timedelta(days=14)).isoformat(),
        "sender": "",
        **extra,
    }


def test_schedule_from_the_form_then_list_and_cancel(owner, shop):
    tab = text_of(owner.get(f"/organizations/{shop.acme.id}/"))
    assert f'href="{url(shop.acme)}"' in tab and "Campaigns" in tab
    assert "No campaigns yet." in text_of(owner.get(url(shop.acme)))
    page = owner.get(url(shop.acme, "new"))
    assert page.status_code == 200 and "Customers" in text_of(page)
    done = owner.post(url(shop.acme, "new"), data=form(shop))
    assert done.status_code == 302, text_of(done)
    campaign = db.session.scalar(db.select(Campaign))
    local = next_run(campaign).due_at.astimezone(ZoneInfo("Europe/Madrid"))
    assert (local.hour, local.minute) == (9, 30)  # the organization's time, not UTC
    assert reserved(shop.acme) == 3
    listing = text_of(owner.get(url(shop.acme)))
    assert "Spring sale" in listing and "Scheduled" in listing and "Weekly" in listing
    assert "Available credits: 97 of 100 held (3 reserved for scheduled campaigns)." in listing
    balance = text_of(owner.get(f"/organizations/{shop.acme.id}/credits/"))
    assert "3 of 100 reserved for campaigns" in balance
    assert owner.post(url(shop.acme, f"{campaign.id}/cancel")).status_code == 302
    detail = text_of(owner.get(url(shop.acme, campaign.id)))
    assert "Cancelled" in detail and "The campaign is cancelled" in detail
    assert reserved(shop.acme) == 0


def test_refusals_are_shown_next_to_their_fields(owner, shop):
    answer = owner.post(url(shop.acme, "new"), data=form(shop, start_date="", until=""))
    html = text_of(answer)
    assert answer.status_code == 422
    assert "Enter a date and time." in html
    assert db.session.scalar(db.select(Campaign)) is None


def test_the_reseller_approves_and_rejects_from_the_campaign_page(client, auth, shop):
    shop.reseller.campaigns_need_approval = True
    commit()
    first, second = schedule(shop), schedule(shop, name="Second")
    assert first.status == CampaignStatus.PENDING_APPROVAL
    auth.login(shop.rita.email, PASSWORD)
    pending = text_of(client.get("/customers/campaigns"))
    assert "Promo" in pending and "Second" in pending and "Acme" in pending
    page = text_of(client.get(url(shop.acme, first.id)))
    assert 'id="approve-campaign"' in page and 'id="reject-campaign"' in page
    assert client.post(url(shop.acme, f"{first.id}/approve")).status_code == 302
    refused = client.post(url(shop.acme, f"{second.id}/reject"), data={"reason": ""})
    assert refused.status_code == 302
    assert "This field is required." in text_of(client.get(url(shop.acme, second.id)))
    client.post(url(shop.acme, f"{second.id}/reject"), data={"reason": "Not this week"})
    db.session.expire_all()
    assert db.session.get(Campaign, first.id).status == CampaignStatus.SCHEDULED
    rejected = db.session.get(Campaign, second.id)
    assert rejected.status == CampaignStatus.REJECTED
    assert rejected.rejection_reason == "Not this week"
    assert "No campaign is waiting for approval." in text_of(client.get("/customers/campaigns"))


def test_the_owner_cannot_approve(owner, shop):
    shop.reseller.campaigns_need_approval = True
    commit()
    campaign = schedule(shop)
    assert 'id="approve-campaign"' not in text_of(owner.get(url(shop.acme, campaign.id)))
    assert owner.post(url(shop.acme, f"{campaign.id}/approve")).status_code == 403
    assert owner.get("/customers/campaigns").status_code == 403


def test_pages_in_spanish(owner, shop):
    campaign = schedule(shop)
    spanish = {"Accept-Language": "es"}
    shop.owner.user.language = None
    commit()
    for path in ("", "new", campaign.id):
        page = owner.get(url(shop.acme, path), headers=spanish)
        assert page.status_code == 200 and 'lang="es"' in text_of(page)
    assert "Programada" in text_of(owner.get(url(shop.acme), headers=spanish))


def test_another_tenants_campaign_is_a_404_and_a_plain_member_has_no_tab(
    client, auth, shop, create_member
):
    campaign = schedule(shop)
    member = create_member(shop.acme, role="member")
    auth.login(member.user.email, PASSWORD)
    assert client.get(url(shop.acme)).status_code == 403
    assert f'href="{url(shop.acme)}"' not in text_of(client.get(f"/organizations/{shop.acme.id}/"))
    auth.logout()
    auth.login(owner_of(shop.zeta).user.email, PASSWORD)
    assert client.get(url(shop.zeta, campaign.id)).status_code == 404
    assert client.get(url(shop.acme, campaign.id)).status_code == 404


def test_a_reseller_admin_switches_approval_on(client, auth, shop, create_reseller_staff):
    admin = create_reseller_staff(shop.reseller, ResellerRole.ADMIN, email="ada@camp.example")
    auth.login(admin.email, PASSWORD)
    page = text_of(client.get("/customers/campaigns"))
    assert 'id="approval-setting"' in page
    answer = client.post("/customers/campaigns", data={"campaigns_need_approval": "y"})
    assert answer.status_code == 302
    db.session.expire_all()
    assert shop.reseller.campaigns_need_approval is True
    assert schedule(shop).status == CampaignStatus.PENDING_APPROVAL
    auth.logout()
    auth.login(shop.rita.email, PASSWORD)  # an agent approves, but does not switch it
    assert 'id="approval-setting"' not in text_of(client.get("/customers/campaigns"))
