"""Members through the API: list, add, read, edit, remove (never the owner)."""

from __future__ import annotations

import pytest

from tenants.core.extensions import db
from tenants.models import Member
from tests.api.test_auth_and_errors import assert_error


def members_path(tenants) -> str:
    return f"/organizations/{tenants.acme.id}/members"


def test_list_members(api, tenants):
    response = api.get(members_path(tenants), tenants.key_a)
    assert response.status_code == 200
    data = response.json["data"]
    assert {m["id"] for m in data} == {
        tenants.acme_owner.id,
        tenants.acme_admin.id,
        tenants.acme_member.id,
    }
    assert set(data[0]) == {
        "id",
        "organization_id",
        "name",
        "email",
        "mobile",
        "role",
        "portal_access",
        "created_at",
    }
    page = api.get(members_path(tenants), tenants.key_a, query={"limit": "2"}).json
    assert len(page["data"]) == 2 and page["next_cursor"]
    rest = api.get(
        members_path(tenants), tenants.key_a, query={"limit": "2", "cursor": page["next_cursor"]}
    ).json
    assert len(rest["data"]) == 1 and rest["next_cursor"] is None


def test_add_member_is_201(api, tenants):
    response = api.post(
        members_path(tenants),
        tenants.key_acme,
        {
            "name": "Nina New",
            "email": "nina@example.com",
            "mobile": "+34 600 000 001",
            "role": "admin",
            "portal_access": False,
        },
    )
    assert response.status_code == 201, response.json
    member = response.json
    assert (member["email"], member["role"], member["portal_access"]) == (
        "nina@example.com",
        "admin",
        False,
    )
    assert member["mobile"] == "+34600000001"
    read = api.get(f"{members_path(tenants)}/{member['id']}", tenants.key_acme)
    assert read.json == member


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"name": "A", "email": "bad", "role": "member", "portal_access": True}, {"email"}),
        ({"name": "A", "email": "a@example.com", "role": "owner", "portal_access": True}, {"role"}),
        (
            {"name": "A", "email": "a@example.com", "role": "member", "portal_access": "yes"},
            {"portal_access"},
        ),
        (
            {
                "name": "A",
                "email": "a@example.com",
                "role": "member",
                "portal_access": True,
                "mobile": "12345",
            },
            {"mobile"},
        ),
        ({"name": "", "email": "a@example.com", "role": "member", "portal_access": True}, {"name"}),
        ({"email": "a@example.com"}, {"name", "role", "portal_access"}),
        (
            {
                "name": "A",
                "email": "a@example.com",
                "role": "member",
                "portal_access": True,
                "admin": True,
            },
            {"admin"},
        ),
    ],
)
def test_add_member_refuses_bad_fields(api, tenants, body, fields):
    error = assert_error(
        api.post(members_path(tenants), tenants.key_a, body), 422, "validation_error"
    )
    assert set(error["fields"]) == fields
    assert (
        db.session.scalar(
            db.select(db.func.count())
            .select_from(Member)
            .where(Member.organization_id == tenants.acme.id)
        )
        == 3
    )


def test_patch_member(api, tenants):
    path = f"{members_path(tenants)}/{tenants.acme_member.id}"
    response = api.patch(path, tenants.key_a, {"role": "admin", "name": "Max Promoted"})
    assert response.status_code == 200, response.json
    assert response.json["role"] == "admin"
    assert response.json["name"] == "Max Promoted"
    error = assert_error(api.patch(path, tenants.key_a, {"role": "boss"}), 422, "validation_error")
    assert set(error["fields"]) == {"role"}


def test_delete_member_is_204_but_never_the_owner(api, tenants):
    path = members_path(tenants)
    assert api.delete(f"{path}/{tenants.acme_member.id}", tenants.key_a).status_code == 204
    assert_error(api.get(f"{path}/{tenants.acme_member.id}", tenants.key_a), 404, "not_found")
    assert_error(
        api.delete(f"{path}/{tenants.acme_owner.id}", tenants.key_a),
        409,
        "owner_cannot_be_removed",
    )
    assert api.get(f"{path}/{tenants.acme_owner.id}", tenants.key_a).status_code == 200


def test_member_of_another_organization_is_404(api, tenants):
    beta_members = api.get(f"/organizations/{tenants.beta.id}/members", tenants.key_a).json
    beta_owner = beta_members["data"][0]["id"]
    assert_error(api.get(f"{members_path(tenants)}/{beta_owner}", tenants.key_a), 404, "not_found")
