"""SPEC §10.1: every route and API endpoint, every actor of reseller A, reseller B's records.

The rules come from ``app.url_map`` and the operations from ``/api/v1/openapi.json``, so a
new route is in the matrix without editing this file; a route with a URL variable this file
does not know fails the test until someone says which record it points at.

What each actor must get, per rule and method, with B's ids in the URL:

* reseller admin, reseller agent, organization owner, admin and member of reseller A
  (logged-in browser sessions): **404** — or 403 where the route is closed to their role
  whatever the record (e.g. a member on the platform pages); never 2xx/3xx, never 500.
  The same with A's own organization in the URL and B's record below it (member, invoice,
  purchase, key, support session of B under A's organization).
* a reseller key and an organization key of A (API): **404** (403 for a role-closed
  operation); never 2xx, never 500. A logged-in browser session on an API route gets
  **401**: the API authenticates by key only.
* platform admin and support agent: they legitimately see every reseller, so their GETs
  may answer 200. They must not *change* reseller B's data through reseller/organization
  routes: every non-GET there is 403/404 (their role may not act), except login-as
  (``support.start``), which SPEC §5 gives a support agent over any customer — here with an
  empty form, so it changes nothing. The platform pages (``platform.*``) are the platform
  admin's own job over every reseller, so they are not called as the platform admin; the
  support agent must get 403 on every non-GET there.

Web forms are posted twice, empty and with plausible fields (``PLAUSIBLE_FORM``), API
bodies are a JSON ``{}`` (the API scopes the path before answering 422), CSRF is off, and the whole
database (``conftest.snapshot``: every tenant table, row counts and a hash of all rows) must
be the same after the matrix as before. Cross-tenant attempts are logged by
``tenants.access.scoping`` as warnings naming the actor and the id.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from tests.security.conftest import PLAUSIBLE_FORM, changed_tables, log_in, snapshot

# Public endpoints: they take no tenant's id and work without logging in.
PUBLIC_ENDPOINTS = {
    "static",
    "bootstrap.static",
    "auth.login",
    "auth.login_code",
    "auth.logout",
    "auth.forgot_password",
    "auth.reset_password",
    "auth.accept_invitation",
    "auth.set_language",
    "api.openapi_document",
}

# URL variables that are not a tenant's record: a key within the actor's own scope (a
# currency of its own price list, a country of its own tax table, a settings form name).
OWN_SCOPE_VARIABLES = {"currency": "EUR", "country": "ES", "key": "billing"}


def id_for(world, variable: str, endpoint: str) -> str:
    """Reseller B's record for a URL variable; an unknown variable fails the test."""
    b = world.b
    table = {
        "org_id": b.org_id,
        "member_id": b.member_id,
        "invoice_id": b.receipt_id if endpoint == "credits.receipt_pdf" else b.invoice_id,
        "purchase_id": (
            b.pending_purchase_id
            if endpoint in ("credits.pay", "credits.retry_purchase")
            else b.purchase_id
        ),
        "key_id": b.reseller_key_id if endpoint.startswith("reseller_settings.") else b.org_key_id,
        "reseller_id": b.reseller_id,
        "staff_id": (world.platform_staff_id if endpoint.startswith("platform.") else b.staff_id),
        "support_session_id": b.support_session_id,
        "payment_id": b.payment_id,
        "transfer_id": b.ownership_transfer_id,
        "token": b.ownership_token,
        "message_id": b.message_id,
        "job_id": world.job_id,
        "list_id": b.list_id,
        "contact_id": b.contact_id,
        "import_id": b.import_id,
        "opt_out_id": b.opt_out_id,
        "campaign_id": b.campaign_id,
    }
    assert variable in table, (
        f"The route {endpoint} has a URL variable <{variable}> the isolation matrix does not "
        "know: add it to id_for() (which record of reseller B it points at) or to "
        "OWN_SCOPE_VARIABLES."
    )
    return table[variable]


def fill(rule: str, values: dict[str, str]) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: values[m.group(1)], rule)


def cross_tenant_urls(world, rule: str, variables: list[str], endpoint: str) -> list[str]:
    """The rule with B's ids; and, when it has ids under an organization, with A's own
    organization and B's records below it."""
    values = {}
    for name in variables:
        values[name] = OWN_SCOPE_VARIABLES.get(name) or id_for(world, name, endpoint)
    urls = [fill(rule, values)]
    if "org_id" in variables and set(variables) - {"org_id"} - set(OWN_SCOPE_VARIABLES):
        urls.append(fill(rule, {**values, "org_id": world.a.org_id}))
    return urls


def web_rules(app):
    """(rule, endpoint, methods, variables) of every non-public, non-API rule."""
    rules = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ENDPOINTS or rule.endpoint.startswith("api."):
            continue
        methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
        rules.append((rule.rule, rule.endpoint, methods, sorted(rule.arguments)))
    return sorted(rules)


def api_operations(client):
    document = client.get("/api/v1/openapi.json").get_json()
    operations = []
    for path, item in document["paths"].items():
        for method in item:
            if method.upper() in {"GET", "POST", "PUT", "PATCH", "DELETE"}:
                rule = re.sub(r"\{([^}]+)\}", r"<\1>", path.removeprefix("/api/v1"))
                operations.append((rule, method.upper(), re.findall(r"<([^>]+)>", rule)))
    return sorted(operations)


# Non-GET calls are made twice: with an empty form and with a plausible one.
BODIES = {True: [None], False: [None, PLAUSIBLE_FORM]}


def call(client, method, url, *, key=None, form=None):
    """One request, read to the end and closed (a streamed CSV holds its request open)."""
    if key is None:
        response = client.open(url, method=method, data=form or {})
    else:
        response = client.open(
            url,
            method=method,
            json={} if method in ("POST", "PUT", "PATCH") else None,
            headers={"Authorization": f"Bearer {key}"},
        )
    response.get_data()
    response.close()
    return response


@dataclass
class Tally:
    """The calls made and the isolation failures found, against reseller B's marker."""

    marker: str
    failures: list[str] = field(default_factory=list)
    calls: int = 0

    def check(self, actor, method, url, response, allowed) -> None:
        """One call that must answer a status in ``allowed`` and, if it succeeds, not show B."""
        self.calls += 1
        if response.status_code not in allowed:
            self.failures.append(f"{actor}: {method} {url} -> {response.status_code}")
        elif response.status_code < 400 and self.marker in response.get_data(as_text=True):
            self.failures.append(f"{actor}: {method} {url} shows reseller B's data")


def assert_api_rules_documented(app, operations) -> None:
    """Every API rule of the app is documented, so the OpenAPI walk covers all of them."""
    documented = {(rule, method) for rule, method, _ in operations}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api.") and rule.endpoint not in PUBLIC_ENDPOINTS:
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"<\1>", rule.rule.removeprefix("/api/v1"))
            for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
                assert (path, method) in documented, f"{method} {rule.rule} not in the OpenAPI"


def check_own_scope_page(tally: Tally, clients, rule: str) -> None:
    """Nothing of B's in the address: the actor's own scope. Lists must not show B."""
    for actor, client in clients.items():
        response = call(client, "GET", rule)
        tally.calls += 1
        if response.status_code >= 500:
            tally.failures.append(f"{actor}: GET {rule} -> {response.status_code}")
        elif tally.marker in response.get_data(as_text=True):
            tally.failures.append(f"{actor}: GET {rule} lists reseller B's data")


def check_platform_staff(tally: Tally, platform, endpoint, method, url, form) -> None:
    """Platform staff may read B's records but not change them (see the module docstring)."""
    for actor, client in platform.items():
        if actor == "platform admin" and endpoint.startswith("platform."):
            continue  # the platform admin's own job over every reseller
        if actor == "support agent" and endpoint == "support.start" and form:
            continue  # login-as any customer is theirs (SPEC §5): not with a body
        response = call(client, method, url, form=form)
        if method == "GET" or (actor == "support agent" and endpoint == "support.start"):
            if response.status_code >= 500:
                tally.failures.append(f"{actor}: {method} {url} -> 500")
            tally.calls += 1
        else:
            tally.check(actor, method, url, response, {403, 404})


def check_web_rule(tally: Tally, world, clients, platform, web_rule) -> None:
    """One web rule, every method and body, for every actor of A and the platform staff."""
    rule, endpoint, methods, variables = web_rule
    if not [v for v in variables if v not in OWN_SCOPE_VARIABLES]:
        if "GET" in methods:
            check_own_scope_page(tally, clients, rule)
        return
    for url in cross_tenant_urls(world, rule, variables, endpoint):
        for method, form in [(m, f) for m in methods for f in BODIES[m == "GET"]]:
            for actor, client in clients.items():
                tally.check(actor, method, url, call(client, method, url, form=form), {403, 404})
            check_platform_staff(tally, platform, endpoint, method, url, form)


def check_api_operation(tally: Tally, world, api, keys, session, operation) -> None:
    """One API operation with A's keys, and with a browser session (no API credential)."""
    rule, method, variables = operation
    if not variables:
        if method == "GET":
            for actor, key in keys.items():
                response = call(api, method, "/api/v1" + rule, key=key)
                tally.calls += 1
                if response.status_code >= 500 or tally.marker in response.get_data(as_text=True):
                    tally.failures.append(f"{actor}: GET {rule} -> {response.status_code} / B")
        return
    endpoint = "api." + rule
    for url in cross_tenant_urls(world, rule, variables, endpoint):
        for actor, key in keys.items():
            tally.check(actor, method, url, call(api, method, "/api/v1" + url, key=key), {403, 404})
        # A browser session is no API credential.
        response = call(session, method, "/api/v1" + url)
        tally.check("session", method, url, response, {401})


def test_no_actor_of_reseller_a_reaches_reseller_b(app, world, caplog):
    a, b = world.a, world.b
    people = {
        "reseller admin": a.admin_email,
        "reseller agent": a.agent_email,
        "org owner": a.owner_email,
        "org admin": a.org_admin_email,
        "org member": a.member_email,
    }
    clients = {actor: log_in(app, email) for actor, email in people.items()}
    platform = {
        "platform admin": log_in(app, world.platform_admin_email),
        "support agent": log_in(app, world.support_agent_email),
    }
    api = app.test_client()
    keys = {"reseller key": a.reseller_secret, "org key": a.org_secret}

    operations = api_operations(api)
    assert_api_rules_documented(app, operations)

    before = snapshot()
    caplog.set_level(logging.WARNING, logger="tenants.access.scoping")
    tally = Tally(marker=b.marker)
    for web_rule in web_rules(app):
        check_web_rule(tally, world, clients, platform, web_rule)
    for operation in operations:
        check_api_operation(tally, world, api, keys, clients["reseller admin"], operation)

    after = snapshot()
    failures, calls = tally.failures, tally.calls
    assert not failures, f"{len(failures)} of {calls} calls broke isolation:\n" + "\n".join(
        failures
    )
    assert changed_tables(before, after) == []
    logged = [r.getMessage() for r in caplog.records if r.name == "tenants.access.scoping"]
    assert any(b.org_id in m and a.admin_email not in m for m in logged), logged[:5]
    assert any(b.org_id in m and f"reseller={a.reseller_id}" in m for m in logged)
    assert calls > 500
