"""Issue 14, input findings: control characters and line breaks refused with 422, refused forms
answer 422 (real CSRF tokens), malformed ids are 404s without a query, odd cursors and CSV
filters are refused before anything streams, and an email header stays one line."""

from __future__ import annotations

import base64
import json

import pytest
import sqlalchemy as sa

from tenants.core.extensions import db
from tenants.jobs.outbox import commit
from tenants.models import Member, Organization
from tenants.people.invitations import send_invitation
from tests.conftest import owner_of
from tests.security.conftest import CSRF_TOKEN, log_in


@pytest.fixture
def app_config(app_config):
    return {**app_config, "WTF_CSRF_ENABLED": True}


def post_form(client, url: str, data: dict):
    """GET the form's page for its CSRF token, then POST ``data`` with it."""
    page = client.get(url)
    assert page.status_code == 200, (url, page.status_code)
    token = CSRF_TOKEN.search(page.data).group(1).decode()
    return client.post(url, data={**data, "csrf_token": token})


def cursor(values) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def test_refused_transfer_purchase_withdraw_and_new_member_forms_answer_422(app, world):
    a = world.a
    owner, agent = log_in(app, a.owner_email), log_in(app, a.agent_email)
    credits = f"/organizations/{a.org_id}/credits"
    cases = [
        (owner, f"{credits}/transfer", {"source": "system", "target": "system", "credits": "x"}),
        (owner, f"{credits}/purchase", {"account": "system", "credits": "-5"}),
        (agent, f"{credits}/withdraw", {"account": "system", "credits": "abc", "reason": "r"}),
        (owner, f"/organizations/{a.org_id}/members/new", {"name": "", "email": "not-an-email"}),
    ]
    for client, url, data in cases:
        response = post_form(client, url, data)
        assert response.status_code == 422, (url, response.status_code)
        assert b'name="csrf_token"' in response.data  # the form again, with its errors


def test_a_name_with_a_line_break_is_refused_by_the_api_and_the_form(app, world):
    a = world.a
    api = app.test_client()
    key = {"Authorization": f"Bearer {a.reseller_secret}"}
    body = {
        "name": "Acme\r\nBcc: evil@example.com",
        "country": "ES",
        "pricing_model": "prepaid",
        "owner": {"name": "Olga Owner", "email": "olga@example.com"},
    }
    response = api.post("/api/v1/organizations", json=body, headers=key)
    assert response.status_code == 422
    assert response.json["error"]["fields"] == {"name": "Write this on one line."}
    # An address may hold several lines; a NUL nowhere.
    address = {"billing": {"address": "Calle Mayor 1\nMadrid"}}
    assert (
        api.patch(f"/api/v1/organizations/{a.org_id}", json=address, headers=key).status_code == 200
    )
    nul = {"billing": {"address": "Calle\x00Mayor"}}
    assert api.patch(f"/api/v1/organizations/{a.org_id}", json=nul, headers=key).status_code == 422

    agent = log_in(app, a.agent_email)
    form = {
        "name": "Acme\nSL",
        "country": "ES",
        "pricing_model": "prepaid",
        "owner_name": "Olga Owner",
        "owner_email": "olga2@example.com",
    }
    response = post_form(agent, "/customers/new", form)
    assert response.status_code == 422
    assert "Write this on one line." in response.get_data(as_text=True)
    names = db.session.scalars(sa.select(Organization.name)).all()
    assert not [n for n in names if "\n" in n or "\r" in n]


def test_control_characters_in_query_parameters_are_422_not_500(app, world):
    a = world.a
    agent, owner = log_in(app, a.agent_email), log_in(app, a.owner_email)
    for client, url in [
        (agent, "/customers/?q=a%00b"),
        (agent, "/credits/reseller-log?q=%00"),
        (agent, "/credits/reseller-log.csv?organization=x%0Ay"),
        (owner, f"/organizations/{a.org_id}/credits/?q=a%00"),
        (owner, f"/organizations/{a.org_id}/credits/log?account=member:%00"),
        (owner, f"/organizations/{a.org_id}/credits/log.csv?account=%00"),
        (owner, f"/organizations/{a.org_id}/invoices?cursor=%00"),
    ]:
        response = client.get(url)
        assert response.status_code == 422, (url, response.status_code)
        assert response.mimetype == "text/html"
        assert "is not valid" in response.get_data(as_text=True)


def test_malformed_ids_in_urls_are_404_without_reaching_the_database(app, world):
    a = world.a
    owner = log_in(app, a.owner_email)
    api = app.test_client()
    key = {"Authorization": f"Bearer {a.reseller_secret}"}
    seen: list[str] = []

    def remember(_conn, _cursor, statement, parameters, _context, _many):
        seen.append(repr(parameters))

    sa.event.listen(db.engine, "before_cursor_execute", remember)
    try:
        for junk in ["a\x00b", "x" * 10_000, "org_not-a-record", "org_" + "z" * 27]:
            assert owner.get(f"/organizations/{junk}/").status_code == 404
            assert owner.get(f"/organizations/{a.org_id}/members/{junk}/").status_code == 404
            response = api.get(f"/api/v1/organizations/{junk}", headers=key)
            assert response.status_code == 404
            assert response.json["error"]["code"] == "not_found"
            assert not [p for p in seen if junk[:20] in p]
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", remember)


def test_cursors_of_nul_or_year_9999_are_refused_not_500(app, world):
    a = world.a
    owner, agent = log_in(app, a.owner_email), log_in(app, a.agent_email)
    api = app.test_client()
    key = {"Authorization": f"Bearer {a.reseller_secret}"}
    odd = [
        cursor(["\x00", "\x00", "next"]),
        cursor(["9999-12-31T23:59:59-14:00", "inv_x"]),
        cursor(["older", "9999-12-31T23:59:59+00:00", "ent_\x00"]),
        base64.urlsafe_b64encode(b"\x00\xff").decode(),
    ]
    for token in odd:
        for client, url in [
            (agent, "/customers/"),
            (agent, "/credits/reseller-log"),
            (owner, f"/organizations/{a.org_id}/invoices"),
            (owner, f"/organizations/{a.org_id}/audit"),
            (owner, f"/organizations/{a.org_id}/credits/log"),
        ]:
            response = client.get(url, query_string={"cursor": token})
            assert response.status_code < 500, (url, token, response.status_code)
        for path in ["/organizations", f"/organizations/{a.org_id}/movements"]:
            response = api.get("/api/v1" + path, query_string={"cursor": token}, headers=key)
            assert response.status_code == 422, (path, token)
            assert "cursor" in response.json["error"]["fields"]


def test_a_csv_whose_filters_are_refused_never_starts(app, world):
    a = world.a
    owner = log_in(app, a.owner_email)
    api = app.test_client()
    key = {"Authorization": f"Bearer {a.reseller_secret}"}
    response = owner.get(f"/organizations/{a.org_id}/credits/log.csv?account=bogus")
    assert response.status_code == 422 and response.mimetype == "text/html"
    response = api.get(
        f"/api/v1/organizations/{a.org_id}/movements.csv",
        query_string={"account": "member:a-b"},
        headers=key,
    )
    assert response.status_code == 422 and response.mimetype == "application/json"
    whole = owner.get(f"/organizations/{a.org_id}/credits/log.csv")
    assert whole.status_code == 200 and whole.data.endswith(b"\r\n")


def test_an_invitation_is_delivered_with_one_line_headers_whatever_the_stored_name(
    app, create_organization, smtp_server
):
    org = create_organization(name="Acme")
    owner = owner_of(org)
    # A name stored before the rule (or by any other way in): line breaks and a header.
    db.session.execute(
        sa.update(Organization)
        .where(Organization.id == org.id)
        .values(name="Acme\r\nBcc: evil@example.com\x1b")
    )
    commit()
    before = len(smtp_server.messages)  # the invitation sent when the organization was made
    send_invitation(db.session.get(Member, owner.id))
    commit()
    message = smtp_server.wait_for(before + 1)[-1]
    assert message["Subject"] == "You have been invited to Acme Bcc: evil@example.com"
    assert message["Bcc"] is None
    assert message["To"] == owner.user.email
