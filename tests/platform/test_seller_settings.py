"""The seller details under reseller settings: what every tax invoice and receipt names as
its seller (legal name, address, tax number, country), edited by reseller admins."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tenants.core.errors import NotFound, ValidationFailed
from tenants.core.extensions import db
from tenants.jobs.outbox import rollback
from tenants.models import AuditEntry
from tenants.resellers import seller

DETAILS = {
    "legal_name": "Acme Telecom Servicios SL",
    "address": "Calle de Alcalá 42\r\n\r\n28014 Madrid  ",
    "tax_id": "ESB99999999",
    "country": "ES",
}


def test_the_tab_leads_to_the_seller_details(admin_client):
    page = admin_client.get("/reseller/settings/prices")
    assert b'href="/reseller/settings/seller"' in page.data
    page = admin_client.get("/reseller/settings/seller")
    assert page.status_code == 200
    assert b'id="seller-form"' in page.data and b'name="legal_name"' in page.data


def test_an_admin_sets_the_seller_details_audited(admin_client, team):
    response = admin_client.post("/reseller/settings/seller", data=DETAILS, follow_redirects=True)
    assert response.status_code == 200
    assert b"The seller details were saved." in response.data
    db.session.refresh(team.reseller)
    assert seller.seller_details(team.reseller) == {
        "legal_name": "Acme Telecom Servicios SL",
        "address": "Calle de Alcalá 42\n28014 Madrid",  # one line ending, no blank lines
        "tax_id": "ESB99999999",
        "country": "ES",
    }
    assert "Calle de Alcalá 42\n28014 Madrid</textarea>" in response.get_data(as_text=True)
    entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "reseller.seller_changed")
    )
    assert entry.changes["tax_id"] == [None, "ESB99999999"]
    assert entry.actor_user_id == team.admin.id
    # Emptied fields are cleared.
    admin_client.post("/reseller/settings/seller", data={**DETAILS, "tax_id": "", "country": ""})
    db.session.refresh(team.reseller)
    assert (team.reseller.tax_id, team.reseller.country) == (None, None)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("legal_name", "Acme\x00SL", b"Contains characters that are not allowed."),
        ("legal_name", "Acme\nSL", b"Write this on one line."),
        ("tax_id", "ES\tB999", b"Contains characters that are not allowed."),
        ("tax_id", "X" * 65, b"Use at most 64 characters."),
        ("address", "A" * 1001, b"Use at most 1000 characters."),
        ("address", "Calle\x1b[31m", b"Contains characters that are not allowed."),
        ("country", "XX", b"Unknown country."),
    ],
)
def test_bad_seller_details_are_refused_next_to_the_field(
    admin_client, team, field, value, message
):
    response = admin_client.post("/reseller/settings/seller", data={**DETAILS, field: value})
    assert response.status_code == 422
    assert message in response.data
    assert b"is-invalid" in response.data
    db.session.refresh(team.reseller)
    assert seller.seller_details(team.reseller)["legal_name"] is None  # nothing stored


def test_agents_and_other_resellers_cannot_change_them(client, auth, team, create_team):
    auth.login(team.agent.email)
    assert client.get("/reseller/settings/seller").status_code == 403
    assert client.post("/reseller/settings/seller", data=DETAILS).status_code == 403
    other = create_team("Other Telecom")
    with pytest.raises(NotFound):
        seller.update_seller_details(other.admin_actor, team.reseller, DETAILS)
    rollback()
    db.session.refresh(team.reseller)
    assert team.reseller.legal_name is None


def test_the_service_reports_every_bad_field_at_once(team):
    with pytest.raises(ValidationFailed) as refused:
        seller.update_seller_details(
            team.admin_actor, team.reseller, {"legal_name": 5, "tax_id": "a\nb", "country": "ZZ"}
        )
    assert set(refused.value.fields) == {"legal_name", "tax_id", "country"}
