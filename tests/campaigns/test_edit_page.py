"""Changing a campaign from the portal (update_campaign, the API's PATCH verb): linked from
the list and the campaign's page while it is scheduled or pending; the form shows it as it
stands; saving reserves the next run's credits again in one step (refused with 402 and a
clear message when short, nothing changed); with approval required the changed campaign
waits for approval again; a closed one cannot be changed; English and Spanish, CSRF."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tenants.access.actors import SYSTEM
from tenants.billing.usage import record_usage
from tenants.campaigns import operations as campaigns
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.jobs.outbox import commit
from tenants.models import AuditEntry, Campaign, CampaignStatus
from tests.campaigns.conftest import next_run, reserved, schedule
from tests.campaigns.test_pages import text_of, url
from tests.conftest import PASSWORD, new_reference, owner_of

MADRID = ZoneInfo("Europe/Madrid")


@pytest.fixture
def owner(client, auth, shop):
    auth.login(shop.owner.user.email, PASSWORD)
    return client


def at(day: date, hour: int, minute: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=MADRID)


def fields(page) -> dict[str, str]:
    """The form's values as the page shows them (inputs and the selected options)."""
    html = page.get_data(as_text=True)
    values = dict(re.findall(r'<input[^>]*name="(\w+)"[^>]*value="([^"]*)"', html))
    values.update(
        re.findall(r'<select[^>]*name="(\w+)"[^>]*>.*?<option selected value="([^"]*)"', html, re.S)
    )
    textarea = re.search(r'<textarea[^>]*name="text"[^>]*>\s*(.*?)</textarea>', html, re.S)
    values["text"] = textarea.group(1) if textarea else None
    return values


def posted(page, **changes) -> dict[str, str]:
    values = {k: v for k, v in fields(page).items() if k != "csrf_token"}
    return {**values, **changes}


def test_change_the_text_list_and_schedule_from_the_form(owner, shop):
    day = date.today() + timedelta(days=3)
    campaign = schedule(shop, starts_at=at(day, 9, 30))
    assert reserved(shop.acme) == 3
    listing = text_of(owner.get(url(shop.acme)))
    assert f'href="{url(shop.acme, campaign.id + "/edit")}"' in listing
    page = owner.get(url(shop.acme, f"{campaign.id}/edit"))
    assert page.status_code == 200
    shown = fields(page)
    assert shown["start_date"] == day.isoformat() and shown["start_time"] == "09:30"
    assert shown["text"] == "Hello" and shown["list_id"] == shop.customers.id
    later = day + timedelta(days=1)
    answer = owner.post(
        url(shop.acme, f"{campaign.id}/edit"),
        data=posted(
            page,
            text="a" * 200,  # 2 SMS x 3
            start_date=later.isoformat(),
            start_time="10:15",
            repeat="daily",
            until=(later + timedelta(days=2)).isoformat(),
            sender="PROMO",
        ),
    )
    assert answer.status_code == 302, text_of(answer)
    db.session.expire_all()
    changed = db.session.get(Campaign, campaign.id)
    assert (changed.text, changed.repeat.value, changed.sender) == ("a" * 200, "daily", "PROMO")
    assert next_run(changed).due_at == at(later, 10, 15)
    assert next_run(changed).reserved == 6 and reserved(shop.acme) == 6
    detail = text_of(owner.get(url(shop.acme, campaign.id)))
    assert "The changes are saved." in detail and 'id="edit-campaign"' in detail
    assert db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "campaign.changed"))


def test_saving_as_it_stands_changes_nothing(owner, shop):
    campaign = schedule(shop)  # a start with seconds (the API's): the form keeps minutes
    page = owner.get(url(shop.acme, f"{campaign.id}/edit"))
    answer = owner.post(url(shop.acme, f"{campaign.id}/edit"), data=posted(page))
    assert answer.status_code == 302
    assert "Nothing was changed." in text_of(owner.get(url(shop.acme, campaign.id)))
    db.session.expire_all()
    assert next_run(campaign).due_at == campaign.starts_at


def test_a_change_that_cannot_be_covered_is_a_402_and_changes_nothing(owner, shop):
    campaign = schedule(shop)
    record_usage(SYSTEM, shop.acme, credits=95, reference=new_reference())  # 5 held, 3 reserved
    commit()
    page = owner.get(url(shop.acme, f"{campaign.id}/edit"))
    answer = owner.post(url(shop.acme, f"{campaign.id}/edit"), data=posted(page, text="a" * 200))
    assert answer.status_code == 402
    assert "needs 6 credits, and only 5 are available" in text_of(answer)
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).text == "Hello"
    assert next_run(campaign).reserved == 3 and reserved(shop.acme) == 3


def test_refusals_are_shown_next_to_their_fields(owner, shop):
    campaign = schedule(shop)
    page = owner.get(url(shop.acme, f"{campaign.id}/edit"))
    answer = owner.post(
        url(shop.acme, f"{campaign.id}/edit"), data=posted(page, name="", start_date="2020-01-01")
    )
    assert answer.status_code == 422
    html = text_of(answer)
    assert "Choose a time in the future." in html and "This field is required." in html


def test_a_changed_campaign_waits_for_approval_again(owner, shop):
    shop.reseller.campaigns_need_approval = True
    commit()
    campaign = schedule(shop)
    campaigns.approve_campaign(shop.staff, shop.acme, campaign)
    commit()
    assert campaign.status == CampaignStatus.SCHEDULED
    page = owner.get(url(shop.acme, f"{campaign.id}/edit"))
    owner.post(url(shop.acme, f"{campaign.id}/edit"), data=posted(page, text="New words"))
    detail = text_of(owner.get(url(shop.acme, campaign.id)))
    assert "The changes are saved. The campaign waits for approval." in detail
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).status == CampaignStatus.PENDING_APPROVAL


def test_a_closed_campaign_cannot_be_changed(owner, shop):
    campaign = schedule(shop)
    campaigns.cancel_campaign(shop.actor, shop.acme, campaign)
    commit()
    assert 'id="edit-campaign"' not in text_of(owner.get(url(shop.acme, campaign.id)))
    assert "/edit" not in text_of(owner.get(url(shop.acme)))
    answer = owner.post(url(shop.acme, f"{campaign.id}/edit"), data={"text": "Again"})
    assert answer.status_code == 302
    assert "This campaign is no longer scheduled." in text_of(
        owner.get(url(shop.acme, campaign.id))
    )
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).text == "Hello"


def test_after_its_first_run_the_schedule_is_shown_but_not_changed(owner, shop):
    campaign = schedule(shop, repeat="daily", until=(utcnow() + timedelta(days=5)).date())
    campaign_run = next_run(campaign)
    campaign_run.occurrence = 1  # as if the first run was sent (the next one is due)
    commit()
    page = owner.get(url(shop.acme, f"{campaign.id}/edit"))
    html = text_of(page)
    assert "This campaign has run: its start and repeat cannot change." in html
    assert re.search(r'name="start_date"[^>]*disabled|disabled[^>]*name="start_date"', html)
    data = {k: v for k, v in posted(page, text="Later").items() if k not in ("start_date",)}
    answer = owner.post(url(shop.acme, f"{campaign.id}/edit"), data=data)
    assert answer.status_code == 302, text_of(answer)
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).text == "Later"


def test_edit_page_in_spanish(owner, shop):
    campaign = schedule(shop)
    shop.owner.user.language = None
    commit()
    page = text_of(
        owner.get(url(shop.acme, f"{campaign.id}/edit"), headers={"Accept-Language": "es"})
    )
    assert 'lang="es"' in page and "Guardar cambios" in page


def test_another_tenants_campaign_is_a_404(client, auth, shop):
    campaign = schedule(shop)
    auth.login(owner_of(shop.zeta).user.email, PASSWORD)
    assert client.get(url(shop.zeta, f"{campaign.id}/edit")).status_code == 404
    assert client.get(url(shop.acme, f"{campaign.id}/edit")).status_code == 404
    assert client.post(url(shop.acme, f"{campaign.id}/edit"), data={"text": "x"}).status_code == 404


class TestWithCsrf:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "WTF_CSRF_ENABLED": True}

    def test_a_post_without_the_token_changes_nothing(self, client, auth, shop):
        campaign = schedule(shop)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/login").text)
        client.post(
            "/login",
            data={
                "email": shop.owner.user.email,
                "password": PASSWORD,
                "csrf_token": token.group(1),
            },
        )
        page = client.get(url(shop.acme, f"{campaign.id}/edit"))
        data = posted(page, text="Forged")
        answer = client.post(url(shop.acme, f"{campaign.id}/edit"), data=data)
        assert answer.status_code in (400, 422)
        db.session.expire_all()
        assert db.session.get(Campaign, campaign.id).text == "Hello"
