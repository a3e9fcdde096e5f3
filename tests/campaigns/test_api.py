"""The campaigns API: schedule (201 with its reservation, 402 when short, 422 field by
field), list, read, change, cancel (the credits free at once); approve and reject with a
reseller key only; the balance's reserved_credits; another tenant's campaign a 404."""

from __future__ import annotations

from datetime import timedelta

from tenants.access.actors import SYSTEM
from tenants.billing.usage import record_usage
from tenants.core.types import utcnow
from tenants.jobs.outbox import commit
from tests.campaigns.conftest import reserved, schedule
from tests.conftest import new_reference


def _start(hours: int = 1) -> str:
    return (utcnow() + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _body(shop, **extra):
    return {
        "name": "Promo",
        "list_id": shop.customers.id,
        "text": "Hello",
        "starts_at": _start(),
        **extra,
    }


def test_schedule_read_list_and_cancel(api, shop, create_api_key):
    key = create_api_key(organization=shop.acme)
    base = f"/organizations/{shop.acme.id}/campaigns"
    until = (utcnow() + timedelta(days=10)).date().isoformat()
    created = api.post(base, key, _body(shop, repeat="weekly", until=until))
    assert created.status_code == 201, created.json
    body = created.json
    assert (body["status"], body["repeat"], body["until"]) == ("scheduled", "weekly", until)
    assert body["reserved_credits"] == 3 and body["next_run"]["reserved_credits"] == 3
    assert body["next_run"]["occurrence"] == 0 and body["last_run"] is None
    assert body["timezone"] == "Europe/Madrid"
    balance = api.get(f"/organizations/{shop.acme.id}/balance", key).json
    assert (balance["total_credits"], balance["reserved_credits"]) == (100, 3)
    assert balance["available_credits"] == 97
    assert api.get(f"{base}/{body['id']}", key).json == body
    listed = api.get(base, key).json
    assert [c["id"] for c in listed["data"]] == [body["id"]] and listed["next_cursor"] is None
    changed = api.patch(f"{base}/{body['id']}", key, {"text": "a" * 200})
    assert changed.status_code == 200, changed.json
    assert changed.json["reserved_credits"] == 6 and changed.json["text"] == "a" * 200
    cancelled = api.delete(f"{base}/{body['id']}", key)
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    assert cancelled.json["reserved_credits"] == 0 and reserved(shop.acme) == 0
    again = api.delete(f"{base}/{body['id']}", key)
    assert again.status_code == 409 and again.json["error"]["code"] == "campaign_closed"


def test_a_run_that_cannot_be_covered_is_a_402_and_nothing_is_scheduled(api, shop, create_api_key):
    key = create_api_key(organization=shop.acme)
    record_usage(SYSTEM, shop.acme, credits=98, reference=new_reference())
    commit()
    response = api.post(f"/organizations/{shop.acme.id}/campaigns", key, _body(shop))
    assert response.status_code == 402
    assert response.json["error"]["code"] == "insufficient_credits"
    assert api.get(f"/organizations/{shop.acme.id}/campaigns", key).json["data"] == []


def test_bad_fields_are_422_each_named(api, shop, create_api_key):
    key = create_api_key(organization=shop.acme)
    base = f"/organizations/{shop.acme.id}/campaigns"
    cases = [
        (_body(shop, starts_at="2020-01-01T10:00:00Z"), "starts_at"),
        (_body(shop, starts_at="2027-01-01T10:00:00"), "starts_at"),  # no zone
        (_body(shop, repeat="hourly"), "repeat"),
        (_body(shop, repeat="daily"), "until"),
        (_body(shop, repeat="daily", until="2027-02-30"), "until"),
        (_body(shop, list_id=shop.beta_customers.id), "list_id"),
        (_body(shop, unknown=1), "unknown"),
        (_body(shop, name=""), "name"),
    ]
    for body, field in cases:
        response = api.post(base, key, body)
        assert response.status_code == 422, (body, response.json)
        assert field in response.json["error"]["fields"], (body, response.json)
    assert reserved(shop.acme) == 0


def test_approval_is_for_reseller_keys_only(api, shop, create_api_key):
    shop.reseller.campaigns_need_approval = True
    commit()
    org_key = create_api_key(organization=shop.acme)
    reseller_key = create_api_key(reseller=shop.reseller)
    base = f"/organizations/{shop.acme.id}/campaigns"
    body = api.post(base, org_key, _body(shop)).json
    assert body["status"] == "pending_approval" and body["reserved_credits"] == 3
    assert api.post(f"{base}/{body['id']}/approve", org_key).status_code == 403
    refused = api.post(f"{base}/{body['id']}/reject", reseller_key, {})
    assert refused.status_code == 422 and "reason" in refused.json["error"]["fields"]
    rejected = api.post(f"{base}/{body['id']}/reject", reseller_key, {"reason": "No"})
    assert rejected.status_code == 200, rejected.json
    assert rejected.json["status"] == "rejected" and rejected.json["rejection_reason"] == "No"
    assert reserved(shop.acme) == 0
    late = api.post(f"{base}/{body['id']}/approve", reseller_key)
    assert late.status_code == 409 and late.json["error"]["code"] == "not_pending_approval"
    second = api.post(base, org_key, _body(shop)).json
    approved = api.post(f"{base}/{second['id']}/approve", reseller_key)
    assert approved.status_code == 200 and approved.json["status"] == "scheduled"


def test_another_tenants_campaign_is_a_404(api, shop, create_api_key):
    campaign = schedule(shop)
    zeta_key = create_api_key(organization=shop.zeta)
    other_reseller_key = create_api_key(reseller=shop.zeta.reseller)
    for key in (zeta_key, other_reseller_key):
        path = f"/organizations/{shop.acme.id}/campaigns/{campaign.id}"
        assert api.get(path, key).status_code == 404
        assert api.delete(path, key).status_code == 404
        assert api.post(f"{path}/approve", key).status_code == 404
    zeta_path = f"/organizations/{shop.zeta.id}/campaigns/{campaign.id}"
    assert api.get(zeta_path, zeta_key).status_code == 404
    assert reserved(shop.acme) == 3
