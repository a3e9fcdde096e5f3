"""Bearer keys (401/403), the one error format, localized messages, malformed input."""

from __future__ import annotations

from tenants.access.actors import SYSTEM
from tenants.core.extensions import db
from tenants.jobs.outbox import commit
from tenants.models import ApiKey, Organization
from tests.api.conftest import new_organization


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    error = response.json["error"]
    assert set(error) == {"code", "message", "fields"}
    assert error["code"] == code
    assert error["message"]
    return error


def test_missing_key_is_401(api, tenants):
    response = api.get("/organizations", None)
    assert_error(response, 401, "invalid_api_key")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_bad_keys_are_401(api, tenants):
    for key in (
        "nonsense",
        tenants.key_a + "x",
        tenants.key_a[:-4] + "AAAA",
        "rk_live_000000000000_" + "A" * 43,
    ):
        assert_error(api.get("/organizations", key), 401, "invalid_api_key")
    response = api.client.get(
        "/api/v1/organizations", headers={"Authorization": f"Basic {tenants.key_a}"}
    )
    assert_error(response, 401, "invalid_api_key")


def test_revoked_key_is_401(api, tenants):
    from tenants.api_keys.operations import revoke_api_key

    assert api.get("/organizations", tenants.key_a).status_code == 200
    key = db.session.scalar(
        db.select(ApiKey).where(
            ApiKey.reseller_id == tenants.a.id, ApiKey.organization_id.is_(None)
        )
    )
    revoke_api_key(SYSTEM, key)
    commit()
    assert_error(api.get("/organizations", tenants.key_a), 401, "invalid_api_key")


def test_keys_are_stored_hashed_and_last_use_noted(api, tenants):
    key = db.session.scalar(db.select(ApiKey).where(ApiKey.reseller_id == tenants.b.id))
    assert tenants.key_b not in (key.key_hash, key.prefix)
    assert tenants.key_b.startswith(key.prefix + "_")
    assert key.last_used_at is None
    api.get("/organizations", tenants.key_b)
    assert db.session.get(ApiKey, key.id).last_used_at is not None


def test_suspended_reseller_keys_are_refused(api, tenants):
    from tenants.models import ResellerStatus

    tenants.b.status = ResellerStatus.SUSPENDED
    commit()
    assert_error(api.get("/organizations", tenants.key_b), 403, "reseller_suspended")
    # Its customers keep working, and other resellers' keys too.
    assert api.get("/organizations", tenants.key_a).status_code == 200


def test_suspended_organization_keys_are_refused(api, tenants):
    response = api.post(f"/organizations/{tenants.acme.id}/suspend", tenants.key_a, {"reason": "x"})
    assert response.status_code == 200
    assert_error(
        api.get(f"/organizations/{tenants.acme.id}", tenants.key_acme),
        403,
        "organization_suspended",
    )
    api.post(f"/organizations/{tenants.acme.id}/reactivate", tenants.key_a)
    assert api.get(f"/organizations/{tenants.acme.id}", tenants.key_acme).status_code == 200


def test_deleted_organization_keys_are_dead(api, tenants):
    assert api.delete(f"/organizations/{tenants.acme.id}", tenants.key_a).status_code == 204
    assert_error(
        api.get(f"/organizations/{tenants.acme.id}", tenants.key_acme), 401, "invalid_api_key"
    )


def test_messages_follow_accept_language(api, tenants):
    es = {"Accept-Language": "es"}
    # Refused by the schema (a required field) and by the service (an unknown country).
    for body, field, english, spanish in (
        (
            new_organization(owner={"email": "a@b.co"}),
            "owner.name",
            "This field is required.",
            "Este campo es obligatorio.",
        ),
        (new_organization(country="ZZ"), "country", "Unknown country.", "País desconocido."),
    ):
        error = assert_error(
            api.post("/organizations", tenants.key_a, body), 422, "validation_error"
        )
        assert error["fields"][field] == english
        error = assert_error(
            api.post("/organizations", tenants.key_a, body, headers=es), 422, "validation_error"
        )
        assert error["fields"][field] == spanish
    missing = assert_error(
        api.get("/organizations/org_nope", tenants.key_a, headers={"Accept-Language": "es-ES"}),
        404,
        "not_found",
    )
    assert missing["message"] == "No encontrado."


def test_malformed_json_is_400(api, tenants):
    for raw in ("{", "{'a': 1}", "[1,", "NaN", '{"name": Infinity}', b"\xff\xfe", "[" * 5000):
        response = api.post("/organizations", tenants.key_a, raw=raw)
        assert_error(response, 400, "malformed_json")
    assert db.session.scalar(db.select(db.func.count()).select_from(Organization)) == 3


def test_non_object_body_is_422(api, tenants):
    for body in ([], "text", 12, True):
        error = assert_error(
            api.post("/organizations", tenants.key_a, body), 422, "validation_error"
        )
        assert "body" in error["fields"]


def test_unknown_route_and_method_answer_json(api, tenants):
    assert_error(api.get("/nothing-here", tenants.key_a), 404, "not_found")
    assert_error(api.call("PUT", "/organizations", tenants.key_a, {}), 405, "method_not_allowed")


def test_unknown_query_parameter_is_422(api, tenants):
    error = assert_error(
        api.get("/organizations", tenants.key_a, query={"colour": "red"}), 422, "validation_error"
    )
    assert "colour" in error["fields"]
    for query in ({"limit": "0"}, {"limit": "101"}, {"limit": "x"}, {"status": "deleted"}):
        error = assert_error(
            api.get("/organizations", tenants.key_a, query=query), 422, "validation_error"
        )
        assert set(error["fields"]) == set(query)


def test_a_browser_login_sent_along_does_not_change_an_api_answer(
    app, client, api, tenants, create_member
):
    """The API acts by its key alone: a browser's login cookie sent with the call (its
    organization since suspended) neither turns the answer into the pages' redirect to the
    login nor ends that login."""
    from tenants.organizations.operations import suspend_organization
    from tests.conftest import AuthActions

    member = create_member(tenants.beta, role="admin", name="Bea Browser")
    assert AuthActions(client).login(member.user.email).status_code == 302
    suspend_organization(SYSTEM, tenants.beta, "Unpaid invoices")
    commit()

    response = api.get(f"/organizations/{tenants.acme.id}", tenants.key_a)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.json["id"] == tenants.acme.id
    assert "Set-Cookie" not in response.headers  # the browser's session is not the API's
