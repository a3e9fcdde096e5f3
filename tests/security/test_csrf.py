"""SPEC §10.5: CSRF protects every state-changing form, and no GET changes state.

With CSRF switched on, every POST/PUT/PATCH/DELETE rule of the app outside the API (which
authenticates by bearer key, not by cookie, and is exempt) is posted to by an actor who
could otherwise use it — with a plausible body but no token, then with a wrong token — and
must answer 400 with the database unchanged. Public forms (login, password reset,
invitation, language) are posted to by a visitor and are refused the same way.

Then every GET rule (and every GET of the API) is opened with reseller A's own valid ids by
the most privileged actor that uses it, and the database must be unchanged (login
bookkeeping excepted, see ``conftest.snapshot``).
"""

from __future__ import annotations

import re

import pytest

from tests.security.conftest import PLAUSIBLE_FORM, changed_tables, log_in, snapshot

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}

# Which actor uses each endpoint (first match of the endpoint's prefix wins).
ACTOR_FOR = [
    ("platform.", "platform admin"),
    ("reseller_settings.", "reseller admin"),
    ("support.settings", "reseller admin"),
    ("support.index", "reseller admin"),
    ("support.session_detail", "reseller admin"),
    ("customers.", "reseller agent"),
    ("reseller_credits.", "reseller agent"),
    ("support.start", "reseller agent"),
    ("support.confirm", "reseller agent"),
    ("support.return_to_account", "reseller agent"),
    ("organization.suspend", "reseller agent"),
    ("organization.reactivate", "reseller agent"),
    ("organization.delete", "reseller agent"),
    ("organization.record_payment", "reseller agent"),
    ("organization.review_payment", "reseller agent"),
    ("organization.void_payment", "reseller agent"),
    ("credits.withdraw", "reseller agent"),
    ("members.ownership", "org owner"),
    ("auth.login", "visitor"),
    ("auth.login_code", "visitor"),
    ("auth.forgot_password", "visitor"),
    ("auth.reset_password", "visitor"),
    ("auth.accept_invitation", "visitor"),
    ("auth.set_language", "visitor"),
    ("", "org admin"),  # organization pages, profile, two-factor, context switch
]


def actor_for(endpoint: str) -> str:
    return next(actor for prefix, actor in ACTOR_FOR if endpoint.startswith(prefix))


def own_value(world, variable: str, endpoint: str) -> str:
    a = world.a
    table = {
        "org_id": a.org_id,
        "member_id": a.member_id,
        "invoice_id": a.receipt_id if endpoint == "credits.receipt_pdf" else a.invoice_id,
        "purchase_id": a.pending_purchase_id,
        "payment_id": a.payment_id,
        "message_id": a.message_id,
        "key_id": a.reseller_key_id if endpoint.startswith("reseller_settings.") else a.org_key_id,
        "reseller_id": a.reseller_id,
        "staff_id": world.platform_staff_id if endpoint.startswith("platform.") else a.staff_id,
        "support_session_id": a.support_session_id,
        "transfer_id": a.ownership_transfer_id,
        "job_id": world.job_id,
        "list_id": a.list_id,
        "contact_id": a.contact_id,
        "import_id": a.import_id,
        "opt_out_id": a.opt_out_id,
        "campaign_id": a.campaign_id,
        "currency": "EUR",
        "country": "ES",
        "key": "billing",
        "token": "not-a-real-token",
        "filename": "css/bootstrap.min.css",
    }
    assert variable in table, (
        f"The route {endpoint} has a URL variable <{variable}> the CSRF sweep does not know: "
        "add which of reseller A's records it points at to own_value()."
    )
    return table[variable]


def fill(world, rule) -> str:
    return re.sub(
        r"<(?:[^:<>]+:)?([^<>]+)>",
        lambda m: own_value(world, m.group(1), rule.endpoint),
        rule.rule,
    )


def read(response):
    response.get_data()
    response.close()
    return response


@pytest.fixture
def app_config(app_config):
    return {**app_config, "WTF_CSRF_ENABLED": True}


@pytest.fixture
def clients(app, world):
    a = world.a
    emails = {
        "platform admin": world.platform_admin_email,
        "reseller admin": a.admin_email,
        "reseller agent": a.agent_email,
        "org owner": a.owner_email,
        "org admin": a.org_admin_email,
    }
    clients = {actor: log_in(app, email) for actor, email in emails.items()}
    clients["visitor"] = app.test_client()
    return clients


def test_every_state_changing_form_refuses_a_missing_or_wrong_csrf_token(app, world, clients):
    before = snapshot()
    failures, posts = [], 0
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint.startswith("api."):
            continue  # bearer-key API, exempt from CSRF (no cookie authenticates it)
        methods = sorted((rule.methods or set()) & STATE_CHANGING)
        if not methods:
            continue
        actor = actor_for(rule.endpoint)
        url = fill(world, rule)
        for method in methods:
            for token in (None, "wrong-token"):
                data = dict(PLAUSIBLE_FORM)
                if token:
                    data["csrf_token"] = token
                response = read(clients[actor].open(url, method=method, data=data))
                posts += 1
                if response.status_code != 400:
                    failures.append(
                        f"{actor}: {method} {url} token={token} -> {response.status_code}"
                    )
    assert posts > 60
    assert not failures, "\n".join(failures)
    assert changed_tables(before, snapshot()) == []


def test_no_get_changes_state(app, world, clients):
    # The clients are logged in (and the API keys used once) before the snapshot.
    before = snapshot()
    opened = 0
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in (rule.methods or ()) or rule.endpoint.startswith("api."):
            continue
        url = fill(world, rule)
        actor = actor_for(rule.endpoint)
        actors = {actor}
        if actor == "org admin":
            actors |= {"reseller admin", "org owner"}  # the org's pages seen by the reseller
        for name in sorted(actors):
            response = read(clients[name].get(url))
            opened += 1
            assert response.status_code < 500, (name, url, response.status_code)
    api = app.test_client()
    document = read(api.get("/api/v1/openapi.json")).get_json()
    for path, item in document["paths"].items():
        if "get" not in item:
            continue
        url = re.sub(r"\{([^}]+)\}", lambda m: own_value(world, m.group(1), "api"), path)
        for key in (world.a.reseller_secret, world.a.org_secret):
            response = read(api.get(url, headers={"Authorization": f"Bearer {key}"}))
            opened += 1
            assert response.status_code < 500, (url, response.status_code)
    assert opened > 60
    assert changed_tables(before, snapshot()) == []
