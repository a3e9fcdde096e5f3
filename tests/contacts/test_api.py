"""The contacts API: lists, contacts (one, an array, a CSV body of any size), the rejected
rows' report, opt-outs; another tenant's records are 404, bad input 422."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select

from tenants.core.extensions import db
from tenants.models import Contact, OptOut
from tests.api.conftest import Api, create_api_key  # noqa: F401  (fixtures)


@pytest.fixture
def api(client) -> Api:
    return Api(client)


@pytest.fixture
def keys(shop, create_api_key):  # noqa: F811
    return {
        "reseller": create_api_key(shop.reseller),
        "org": create_api_key(organization=shop.org),
        "other": create_api_key(shop.other_reseller),
    }


def _lists(shop) -> str:
    return f"/organizations/{shop.org.id}/contact-lists"


def _contacts(shop, list_id=None) -> str:
    return f"{_lists(shop)}/{list_id or shop.clients.id}/contacts"


def _csv(api, path, key, text, **headers):
    return api.post(path, key, raw=text.encode(), headers={"Content-Type": "text/csv", **headers})


def test_lists_are_created_read_renamed_listed_and_deleted(api, shop, keys):
    created = api.post(_lists(shop), keys["org"], {"name": "VIP"})
    assert created.status_code == 201, created.json
    body = created.json
    assert body["name"] == "VIP" and body["contacts"] == 0 and body["created_at"].endswith("Z")
    one = f"{_lists(shop)}/{body['id']}"
    assert api.patch(one, keys["reseller"], {"name": "VIP 2"}).json["name"] == "VIP 2"
    assert api.get(one, keys["org"]).json["name"] == "VIP 2"
    page = api.get(_lists(shop), keys["org"], query={"limit": "1"}).json
    assert len(page["data"]) == 1 and page["next_cursor"]
    rest = api.get(_lists(shop), keys["org"], query={"cursor": page["next_cursor"]}).json
    assert {item["name"] for item in page["data"] + rest["data"]} == {"Clients", "VIP 2"}
    assert api.delete(one, keys["org"]).status_code == 204
    assert api.get(one, keys["org"]).status_code == 404


def test_one_contact_is_added_and_edited_and_removed(api, shop, keys):
    added = api.post(_contacts(shop), keys["org"], {"name": "Ana", "mobile": "600 000 801"})
    assert added.status_code == 201, added.json
    contact = added.json["contact"]
    assert added.json["added"] == 1 and contact["mobile"] == "+34600000801"
    one = f"{_contacts(shop)}/{contact['id']}"
    assert api.get(one, keys["org"]).json["name"] == "Ana"
    assert api.patch(one, keys["org"], {"name": None}).json["name"] is None
    again = api.post(_contacts(shop), keys["org"], {"mobile": "+34600000801"})
    assert again.status_code == 422
    assert again.json["error"]["fields"] == {"mobile": "This number is already in the list."}
    assert api.delete(one, keys["org"]).status_code == 204
    assert api.get(one, keys["org"]).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"mobile": "12"}, "mobile"),
        ({"name": "Ana"}, "mobile"),
        ({"mobile": "+34600000802", "email": "x"}, "email"),
        ({"mobile": 34600000802}, "mobile"),
        ([{"mobile": "+34600000802"}, {"mobile": 5}], "contacts[1].mobile"),
        ({"name": "two\nlines", "mobile": "+34600000802"}, "name"),
    ],
)
def test_bad_input_is_refused_with_422_on_its_field(api, shop, keys, body, field):
    response = api.post(_contacts(shop), keys["org"], body)
    assert response.status_code == 422, response.json
    assert field in response.json["error"]["fields"]
    assert db.session.scalar(select(func.count()).where(Contact.list_id == shop.clients.id)) == 0


def test_an_array_is_imported_with_rejections(api, shop, keys):
    body = [
        {"name": "Ana", "mobile": "+34600000811"},
        {"mobile": "+34600000811"},
        {"mobile": "nope"},
    ]
    response = api.post(_contacts(shop), keys["org"], body)
    assert response.status_code == 200, response.json
    answer = response.json
    assert (answer["added"], answer["duplicates"], answer["rejected_count"]) == (1, 1, 1)
    assert answer["rejected"] == [
        {"row": 3, "reason": "mobile_invalid", "message": "Not a valid mobile number."}
    ]
    assert answer["rejections_url"].endswith(
        f"/contact-imports/{answer['import_id']}/rejections.csv"
    )


def test_a_csv_body_is_imported_and_its_report_downloaded(api, shop, keys):
    lines = (
        ["name,mobile"]
        + [f"P{i},+3462{i:07d}" for i in range(3000)]
        + ["Bad,1", "Dup,+34620000000"]
    )
    response = _csv(api, _contacts(shop), keys["org"], "\n".join(lines))
    assert response.status_code == 200, response.json
    answer = response.json
    assert (answer["added"], answer["duplicates"], answer["rejected_count"]) == (3000, 1, 1)
    assert answer["rejected"][0]["row"] == 3002
    report = api.get(
        answer["rejections_url"].split("/api/v1", 1)[1],
        keys["org"],
        headers={"Accept-Language": "es"},
    )
    assert report.status_code == 200 and report.mimetype == "text/csv"
    assert "filas-rechazadas" in report.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(report.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows == [
        ["Fila", "Motivo", "Contenido"],
        ["3002", "No es un número de móvil válido.", "Bad,1"],
    ]
    listed = api.get(_contacts(shop), keys["org"], query={"limit": "100"}).json
    assert len(listed["data"]) == 100 and listed["next_cursor"]


def test_a_csv_import_repeated_with_its_idempotency_key_is_applied_once(api, shop, keys):
    text = "+34600000821\n+34600000822\n"
    first = _csv(api, _contacts(shop), keys["org"], text, **{"Idempotency-Key": "imp-1"})
    again = _csv(api, _contacts(shop), keys["org"], text, **{"Idempotency-Key": "imp-1"})
    assert first.json == again.json and again.headers.get("Idempotent-Replayed") == "true"
    other = _csv(
        api, _contacts(shop), keys["org"], "+34600000823\n", **{"Idempotency-Key": "imp-1"}
    )
    assert other.status_code == 409


def test_a_csv_without_a_mobile_column_is_422(api, shop, keys):
    response = _csv(api, _contacts(shop), keys["org"], "name,email\nAna,a@example.com\n")
    assert response.status_code == 422 and "file" in response.json["error"]["fields"]


def test_another_tenants_lists_and_contacts_are_404(api, shop, keys):
    other_list = f"/organizations/{shop.other.id}/contact-lists/{shop.other_list.id}"
    mixed = f"{_lists(shop)}/{shop.other_list.id}"
    contact = f"{_contacts(shop)}/{shop.other_contact.id}"
    for key in (keys["org"], keys["reseller"]):
        assert api.get(other_list, key).status_code == 404
        assert api.get(mixed, key).status_code == 404
        assert api.get(f"{mixed}/contacts", key).status_code == 404
        assert api.get(contact, key).status_code == 404
        assert api.post(f"{mixed}/contacts", key, {"mobile": "bad"}).status_code == 404
        assert api.delete(mixed, key).status_code == 404
        assert _csv(api, f"{mixed}/contacts", key, "+34600000831\n").status_code == 404
    assert api.get(_lists(shop), keys["other"]).status_code == 404
    assert api.get(f"/organizations/{shop.other.id}/opt-outs", keys["org"]).status_code == 404
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).where(Contact.list_id == shop.other_list.id)) == 1


def test_opt_outs_are_listed_added_imported_and_removed(api, shop, keys):
    path = f"/organizations/{shop.org.id}/opt-outs"
    added = api.post(path, keys["org"], {"mobile": "600 000 841"})
    assert added.status_code == 201, added.json
    assert added.json["mobile"] == "+34600000841" and added.json["source"] == "manual"
    assert api.post(path, keys["org"], {"mobile": "+34600000841"}).status_code == 422
    imported = _csv(api, path, keys["org"], "mobile\n+34600000842\n+34600000841\nx\n")
    assert imported.status_code == 200, imported.json
    assert (
        imported.json["added"],
        imported.json["duplicates"],
        imported.json["rejected_count"],
    ) == (1, 1, 1)
    listed = api.get(path, keys["org"]).json["data"]
    assert {item["mobile"] for item in listed} == {"+34600000841", "+34600000842"}
    removed = api.delete(path, keys["org"], query={"mobile": "+34 600 000 841"})
    assert removed.status_code == 204
    assert api.delete(path, keys["org"], query={"mobile": "+34600000841"}).status_code == 404
    assert api.delete(path, keys["org"]).status_code == 422
    assert db.session.scalar(select(func.count()).select_from(OptOut)) == 1


def test_the_openapi_document_describes_the_contacts_endpoints(api):
    document = api.get("/openapi.json", None).json
    paths = document["paths"]
    contacts = paths["/api/v1/organizations/{org_id}/contact-lists/{list_id}/contacts"]
    assert set(contacts) == {"get", "post"}
    assert set(contacts["post"]["requestBody"]["content"]) == {"application/json", "text/csv"}
    assert "/api/v1/organizations/{org_id}/opt-outs" in paths
    assert "/api/v1/organizations/{org_id}/contact-imports/{import_id}/rejections.csv" in paths
