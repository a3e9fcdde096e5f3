"""Organizations through the API: list, create, read, edit, lifecycle, delete, ownership."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tenants.core.extensions import db
from tenants.jobs.outbox import commit
from tenants.models import AuditEntry, Member, MemberRole, Organization, OrganizationStatus
from tests.api.conftest import new_organization
from tests.api.test_auth_and_errors import assert_error
from tests.conftest import owner_of

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def test_organization_object_is_exactly_the_contract(api, tenants):
    response = api.get(f"/organizations/{tenants.acme.id}", tenants.key_a)
    assert response.status_code == 200
    org = response.json
    assert list(org) == [
        "id",
        "name",
        "status",
        "country",
        "currency",
        "timezone",
        "pricing_model",
        "owner_id",
        "individual_user_credits",
        "credit_limit",
        "billing",
        "settings",
        "auto_top_up",
        "forecast",
        "created_at",
    ]
    assert org["id"] == tenants.acme.id
    assert (org["name"], org["status"], org["country"]) == ("Acme", "active", "ES")
    assert (org["currency"], org["timezone"], org["pricing_model"]) == (
        "EUR",
        "Europe/Madrid",
        "prepaid",
    )
    assert org["owner_id"] == tenants.acme_owner.id
    assert org["credit_limit"] == "0.00"
    assert org["individual_user_credits"] is False
    assert set(org["billing"]) == {"type", "name", "address", "tax_id", "email"}
    assert org["billing"]["name"] == "Acme"  # defaults to the organization's name
    assert set(org["settings"]) == {
        "sender_name",
        "notification_email",
        "notification_mobile",
        "low_balance_alert",
        "low_balance_threshold",
        "alert_email",
        "forecast_alert_days",
    }
    assert org["settings"]["forecast_alert_days"] is None
    assert org["forecast"] is None  # no usage yet
    assert org["auto_top_up"] == {"enabled": False, "below": 0, "credits": 0, "monthly_limit": 10}
    assert TIME.match(org["created_at"])
    # The owner id is the id used under /members/.
    member = api.get(f"/organizations/{tenants.acme.id}/members/{org['owner_id']}", tenants.key_a)
    assert member.json["role"] == "owner"


def test_list_paginates_with_a_cursor(api, tenants):
    response = api.get("/organizations", tenants.key_a, query={"limit": "1"})
    assert response.status_code == 200
    first = response.json
    assert len(first["data"]) == 1 and first["next_cursor"]
    second = api.get(
        "/organizations", tenants.key_a, query={"limit": "1", "cursor": first["next_cursor"]}
    ).json
    assert len(second["data"]) == 1
    assert {first["data"][0]["name"], second["data"][0]["name"]} == {"Acme", "Beta"}
    assert second["next_cursor"] is None


def test_list_filters_by_status_and_q(api, tenants):
    api.post(f"/organizations/{tenants.beta.id}/suspend", tenants.key_a, {"reason": "late"})
    suspended = api.get("/organizations", tenants.key_a, query={"status": "suspended"}).json
    assert [o["name"] for o in suspended["data"]] == ["Beta"]
    found = api.get("/organizations", tenants.key_a, query={"q": "acm"}).json
    assert [o["name"] for o in found["data"]] == ["Acme"]


def test_create_returns_201_and_invites_the_owner(api, tenants, app):
    body = new_organization(
        currency="EUR", billing={"type": "company", "name": "Nueva Facturación", "tax_id": "B1"}
    )
    response = api.post("/organizations", tenants.key_a, body)
    assert response.status_code == 201, response.json
    org = response.json
    assert org["name"] == "Nueva SL"
    assert org["billing"]["name"] == "Nueva Facturación"
    assert org["timezone"] == "Europe/Madrid"
    stored = db.session.get(Organization, org["id"])
    assert stored.reseller_id == tenants.a.id
    owner = db.session.get(Member, org["owner_id"])
    assert owner.user.email == "nora@example.com" and owner.role == MemberRole.OWNER


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"country": "XX"}, {"country"}),
        ({"currency": "ABC"}, {"currency"}),
        ({"timezone": "Mars/Base"}, {"timezone"}),
        ({"owner": {"name": "N", "email": "not-an-email"}}, {"owner.email"}),
        ({"name": ""}, {"name"}),
        ({"name": "x" * 10_000}, {"name"}),
        ({"pricing_model": "free"}, {"pricing_model"}),
        ({"colour": "red"}, {"colour"}),
        ({"billing": {"type": "company", "vat": "1"}}, {"billing.vat"}),
        ({"name": 12, "country": ["ES"]}, {"name", "country"}),
        ({"owner": "nora@example.com"}, {"owner"}),
    ],
)
def test_create_refuses_bad_fields_with_422(api, tenants, changes, fields):
    before = db.session.scalar(db.select(db.func.count()).select_from(Organization))
    response = api.post("/organizations", tenants.key_a, new_organization(**changes))
    error = assert_error(response, 422, "validation_error")
    assert set(error["fields"]) == fields
    assert db.session.scalar(db.select(db.func.count()).select_from(Organization)) == before


def test_patch_edits_nested_fields(api, tenants):
    response = api.patch(
        f"/organizations/{tenants.acme.id}",
        tenants.key_a,
        {
            "name": "Acme Renamed",
            "billing": {"type": "individual", "name": "Ana Pérez", "address": "Calle 1"},
            "settings": {
                "sender_name": "ACME",
                "low_balance_alert": True,
                "low_balance_threshold": 500,
            },
            "credit_limit": "150.50",
        },
    )
    assert response.status_code == 200, response.json
    org = response.json
    assert org["name"] == "Acme Renamed"
    assert org["billing"]["type"] == "individual"
    assert org["billing"]["name"] == "Ana Pérez"
    assert org["settings"]["sender_name"] == "ACME"
    assert org["settings"]["low_balance_threshold"] == 500
    assert org["credit_limit"] == "150.50"
    assert api.get(f"/organizations/{tenants.acme.id}", tenants.key_a).json == org


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"settings": {"low_balance_threshold": -1}}, {"settings.low_balance_threshold"}),
        ({"settings": {"low_balance_threshold": 1.5}}, {"settings.low_balance_threshold"}),
        ({"settings": {"low_balance_threshold": "5"}}, {"settings.low_balance_threshold"}),
        ({"settings": {"low_balance_threshold": True}}, {"settings.low_balance_threshold"}),
        ({"settings": {"low_balance_threshold": 10**13}}, {"settings.low_balance_threshold"}),
        ({"auto_top_up": {"credits": 0}}, {"auto_top_up.credits"}),
        ({"auto_top_up": {"credits": -5}}, {"auto_top_up.credits"}),
        ({"auto_top_up": {"monthly_limit": 0}}, {"auto_top_up.monthly_limit"}),
        ({"auto_top_up": {"monthly_limit": 101}}, {"auto_top_up.monthly_limit"}),
        ({"auto_top_up": {"monthly_limit": 2.5}}, {"auto_top_up.monthly_limit"}),
        ({"auto_top_up": {"enabled": True, "credits": 100}}, {"auto_top_up.below"}),
        ({"credit_limit": 12.5}, {"credit_limit"}),
        ({"credit_limit": "-1.00"}, {"credit_limit"}),
        ({"credit_limit": "1.234"}, {"credit_limit"}),
        ({"individual_user_credits": "yes"}, {"individual_user_credits"}),
        ({"id": "org_x", "status": "active"}, {"id", "status"}),
        ({"settings": {"notification_mobile": "12"}}, {"settings.notification_mobile"}),
    ],
)
def test_patch_refuses_bad_fields_with_422(api, tenants, body, fields):
    before = api.get(f"/organizations/{tenants.acme.id}", tenants.key_a).json
    error = assert_error(
        api.patch(f"/organizations/{tenants.acme.id}", tenants.key_a, body), 422, "validation_error"
    )
    assert set(error["fields"]) == fields
    assert api.get(f"/organizations/{tenants.acme.id}", tenants.key_a).json == before


def test_suspend_and_reactivate(api, tenants):
    path = f"/organizations/{tenants.acme.id}"
    response = api.post(f"{path}/suspend", tenants.key_a, {"reason": "Unpaid invoice"})
    assert response.status_code == 200
    assert response.json["status"] == "suspended"
    assert_error(api.post(f"{path}/suspend", tenants.key_a, {"reason": "again"}), 409, "conflict")
    response = api.post(f"{path}/reactivate", tenants.key_a)
    assert response.status_code == 200
    assert response.json["status"] == "active"
    assert_error(api.post(f"{path}/reactivate", tenants.key_a), 409, "conflict")


def test_suspend_needs_a_reason(api, tenants):
    error = assert_error(
        api.post(f"/organizations/{tenants.acme.id}/suspend", tenants.key_a, {}),
        422,
        "validation_error",
    )
    assert set(error["fields"]) == {"reason"}


def test_delete_is_204_and_the_organization_leaves_lists(api, tenants):
    assert api.delete(f"/organizations/{tenants.beta.id}", tenants.key_a).status_code == 204
    assert_error(api.get(f"/organizations/{tenants.beta.id}", tenants.key_a), 404, "not_found")
    names = [o["name"] for o in api.get("/organizations", tenants.key_a).json["data"]]
    assert names == ["Acme"]
    assert db.session.get(Organization, tenants.beta.id).status == OrganizationStatus.DELETED


def test_delete_refused_while_credits_or_debt_remain(api, tenants):
    from decimal import Decimal

    from tenants.access.actors import SYSTEM
    from tenants.billing.usage import record_usage
    from tenants.credits.operations import add_credits
    from tenants.models import EntryType
    from tenants.models.ledger import SYSTEM_ACCOUNT
    from tests.conftest import set_prices

    set_prices(tenants.a)
    add_credits(SYSTEM, tenants.acme, SYSTEM_ACCOUNT, 10, entry_type=EntryType.ADJUSTMENT)
    tenants.beta.credit_limit = Decimal("100")
    record_usage(SYSTEM, tenants.beta, credits=70, reference="sms-1")
    commit()
    held = assert_error(
        api.delete(f"/organizations/{tenants.acme.id}", tenants.key_a), 409, "balance_not_zero"
    )
    assert "Withdraw" in held["message"]
    owed = assert_error(
        api.delete(f"/organizations/{tenants.beta.id}", tenants.key_a), 409, "outstanding_debt"
    )
    # 70 SMS at 0.05 and their 21 % tax: what to do next is said.
    assert "€4.24" in owed["message"] and "final invoice" in owed["message"]
    for org in (tenants.acme, tenants.beta):
        assert db.session.get(Organization, org.id).status == OrganizationStatus.ACTIVE


def test_ownership_moves_at_once_with_a_reason_and_the_old_owner_becomes_admin(api, tenants):
    path = f"/organizations/{tenants.acme.id}"
    response = api.post(
        f"{path}/ownership",
        tenants.key_a,
        {"member_id": tenants.acme_admin.id, "reason": "Ticket 7: owner left the company"},
    )
    assert response.status_code == 200, response.json
    assert response.json["owner_id"] == tenants.acme_admin.id
    old = api.get(f"{path}/members/{tenants.acme_owner.id}", tenants.key_a).json
    assert old["role"] == "admin"
    entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "organization.ownership_transferred")
    )
    assert entry.changes["reason"] == [None, "Ticket 7: owner left the company"]
    assert entry.api_key_id is not None


def test_ownership_without_a_reason_is_422_and_changes_nothing(api, tenants):
    path = f"/organizations/{tenants.acme.id}/ownership"
    for body in (
        {"member_id": tenants.acme_admin.id},
        {"member_id": tenants.acme_admin.id, "reason": "   "},
    ):
        error = assert_error(api.post(path, tenants.key_a, body), 422, "validation_error")
        assert set(error["fields"]) == {"reason"}
    assert owner_of(tenants.acme).id == tenants.acme_owner.id


def test_an_organization_key_cannot_change_the_owner(api, tenants):
    response = api.post(
        f"/organizations/{tenants.acme.id}/ownership",
        tenants.key_acme,
        {"member_id": tenants.acme_admin.id, "reason": "mine now"},
    )
    assert response.status_code == 403
    assert owner_of(tenants.acme).id == tenants.acme_owner.id


def test_ownership_to_an_unknown_member_is_422(api, tenants):
    zeta_owner = api.get(f"/organizations/{tenants.zeta.id}", tenants.key_b).json["owner_id"]
    for member_id in ("mem_nope", zeta_owner):
        error = assert_error(
            api.post(
                f"/organizations/{tenants.acme.id}/ownership",
                tenants.key_a,
                {"member_id": member_id, "reason": "support case"},
            ),
            422,
            "validation_error",
        )
        assert set(error["fields"]) == {"member_id"}


def test_organization_key_acts_as_admin_of_its_organization_only(api, tenants):
    key = tenants.key_acme
    listing = api.get("/organizations", key).json
    assert [o["id"] for o in listing["data"]] == [tenants.acme.id]
    assert api.get(f"/organizations/{tenants.acme.id}", key).status_code == 200
    patch = api.patch(f"/organizations/{tenants.acme.id}", key, {"billing": {"address": "Here"}})
    assert patch.status_code == 200, patch.json
    for org in (tenants.beta, tenants.zeta):
        assert_error(api.get(f"/organizations/{org.id}", key), 404, "not_found")
    # Reseller-only actions are refused on its own organization: allowed to see, not to do.
    assert_error(api.post("/organizations", key, new_organization()), 403, "forbidden")
    assert_error(
        api.post(f"/organizations/{tenants.acme.id}/suspend", key, {"reason": "x"}),
        403,
        "forbidden",
    )
    assert_error(api.delete(f"/organizations/{tenants.acme.id}", key), 403, "forbidden")
