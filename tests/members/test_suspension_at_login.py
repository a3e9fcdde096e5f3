"""A member of a suspended organization is told why, at login and on their next page: the
reason the suspend form promises to show them (SPEC §2)."""

from __future__ import annotations

from tenants.access.actors import SYSTEM
from tenants.jobs.outbox import commit
from tenants.organizations.operations import suspend_organization

REASON = "Unpaid invoices since September"


def test_logging_in_to_a_suspended_organization_shows_the_reason(client, auth, acme):
    suspend_organization(SYSTEM, acme.org, REASON)
    commit()
    response = auth.login(acme.member.user.email)
    text = response.get_data(as_text=True)
    assert response.status_code == 403
    assert f"Your organization Acme is suspended (reason: {REASON})." in text
    assert "Please contact your provider to reactivate it." in text
    # A wrong password learns nothing of it.
    wrong = auth.login(acme.member.user.email, "not the password").get_data(as_text=True)
    assert REASON not in wrong


def test_in_spanish_and_without_a_reason(client, auth, acme):
    suspend_organization(SYSTEM, acme.org, REASON)
    commit()
    spanish = client.post(
        "/login",
        data={"email": acme.owner.user.email, "password": "correct horse battery"},
        headers={"Accept-Language": "es"},
    ).get_data(as_text=True)
    assert f"Tu organización Acme está suspendida (motivo: {REASON})." in spanish

    acme.org.suspension_reason = None
    commit()
    plain = auth.login(acme.owner.user.email).get_data(as_text=True)
    assert "Your organization is suspended. Please contact your provider" in plain


def test_a_member_logged_in_when_it_is_suspended_is_told_why_on_the_next_page(client, auth, acme):
    auth.login(acme.admin.user.email)
    assert client.get(f"/organizations/{acme.org.id}/").status_code == 200
    suspend_organization(SYSTEM, acme.org, REASON)
    commit()
    landing = client.get(f"/organizations/{acme.org.id}/", follow_redirects=True)
    assert landing.request.path == "/login"
    assert f"(reason: {REASON})" in landing.get_data(as_text=True)
