"""The message history's campaign filter: the page, its CSV and the API's list keep the
messages one campaign's runs sent; a campaign of another organization (or none such) is a
404, exactly like one that does not exist; the campaign's page links to its messages."""

from __future__ import annotations

import csv
import io

import pytest

from tenants.jobs.outbox import commit
from tenants.messaging import operations as messaging
from tests.campaigns.conftest import come_due, next_run, runs_of, schedule
from tests.conftest import PASSWORD


@pytest.fixture
def sent(app, shop):
    """Acme's campaign run once (its message), and a message sent by hand; Beta's campaign."""
    campaign = schedule(shop)
    come_due(next_run(campaign))
    [run] = runs_of(campaign)
    direct = messaging.send_message(shop.actor, shop.acme, to=["+34600000009"], text="Direct")
    commit()
    other = schedule(shop, org=shop.beta, actor=shop.beta_actor)
    return campaign, run.message_id, direct.message.id, other


def history(org, path: str = "") -> str:
    return f"/organizations/{org.id}/messages/{path}"


def test_the_page_and_its_csv_keep_the_campaigns_messages(client, auth, shop, sent):
    campaign, from_campaign, direct, _other = sent
    auth.login(shop.owner.user.email, PASSWORD)
    everything = client.get(history(shop.acme)).text
    assert from_campaign in everything and direct in everything
    assert 'name="campaign_id"' in everything and "Promo" in everything
    page = client.get(history(shop.acme), query_string={"campaign_id": campaign.id})
    assert page.status_code == 200
    assert from_campaign in page.text and direct not in page.text
    assert f"campaign_id={campaign.id}" in page.text  # the CSV link keeps the filter
    download = client.get(
        history(shop.acme, "messages.csv"), query_string={"campaign_id": campaign.id}
    )
    rows = list(csv.reader(io.StringIO(download.text.lstrip("\ufeff"))))
    assert download.status_code == 200 and len(rows) == 2 and rows[1][-1] == "Hello"
    detail = client.get(f"/organizations/{shop.acme.id}/campaigns/{campaign.id}").text
    assert f"{history(shop.acme)}?campaign_id={campaign.id}" in detail


def test_another_organizations_campaign_is_a_404(client, auth, shop, sent):
    _campaign, _from_campaign, _direct, other = sent
    auth.login(shop.owner.user.email, PASSWORD)
    for campaign_id in (other.id, "cmp_nosuch", "x" * 500):
        query = {"campaign_id": campaign_id}
        assert client.get(history(shop.acme), query_string=query).status_code == 404
        csv_answer = client.get(history(shop.acme, "messages.csv"), query_string=query)
        assert csv_answer.status_code == 404


def test_the_api_list_filters_by_campaign(api, shop, sent, create_api_key):
    campaign, from_campaign, direct, other = sent
    base = f"/organizations/{shop.acme.id}/messages"
    for key in (create_api_key(organization=shop.acme), create_api_key(reseller=shop.reseller)):
        listed = api.get(f"{base}?campaign_id={campaign.id}", key)
        assert listed.status_code == 200, listed.json
        assert [m["id"] for m in listed.json["data"]] == [from_campaign]
        everything = {m["id"] for m in api.get(base, key).json["data"]}
        assert {from_campaign, direct} <= everything
        refused = api.get(f"{base}?campaign_id={other.id}", key)
        assert refused.status_code == 404 and refused.json["error"]["code"] == "not_found"
    other_key = create_api_key(organization=shop.beta)
    assert api.get(f"{base}?campaign_id={campaign.id}", other_key).status_code == 404
