"""Issue 14, "Must show": junk in every query parameter, URL id and form of the URL map, as every
role, never answers 5xx nor a partial CSV.

The rules come from ``app.url_map`` (web) and ``/api/v1/openapi.json`` (API). Path variables
are reseller A's own records (``test_csrf.own_value``), then junk ids. Query parameters: the
ones each page reads (recorded while it answers a plain GET) and the API operation's documented
ones. Forms: every field name a form of the page shows (or of any form, for a POST-only rule),
posted with a real CSRF token. Payloads: NUL, control characters, line breaks, 10,000
characters, bidi marks, and cursors that decode to garbage, a NUL or the year 9999.

Each page is walked in full by the actor who uses it (``test_csrf.actor_for``); every other
role opens every page with a deterministic rotation of the payloads, so the run stays well
under a minute on SQLite. A refused form (junk in every field) must not answer 200: its page
answers 422 (or a redirect when the form has nothing to refuse).
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import time

import pytest
from werkzeug.datastructures import ImmutableMultiDict

from tests.security.conftest import CSRF_TOKEN, log_in
from tests.security.test_csrf import actor_for, own_value
from tests.security.test_forms import all_form_classes


def _cursor(value) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# Refused by the one text rule wherever they arrive.
REFUSED = ["a\x00b", "x\x01\x1b\x7f\x85y", "line\r\nBcc: evil@example.com", "x" * 10_000]
# Valid text, odd values: each parameter gets each of these on its own.
ODD = [
    "\u202eevil\u202c",
    "y" * 1999,
    "member:" + "z" * 60,
    "9999-12-31",
    "-1",
    _cursor(b"\x00\xff garbage"),
    _cursor(["\x00", "\x00", "next"]),
    _cursor(["older", "9999-12-31T23:59:59-14:00", "ent_\x00"]),
    _cursor(["9999-12-31T23:59:59+00:00", "inv_x"]),
    _cursor(["0001-01-01T00:00:00+14:00", "x"]),
]
PAYLOADS = REFUSED + ODD
JUNK_IDS = ["a\x00b", "x" * 10_000, "org_not-a-record", "\u202e"]
ROLES = {
    "platform admin": "platform_admin_email",
    "support agent": "support_agent_email",
    "reseller admin": "admin_email",
    "reseller agent": "agent_email",
    "org owner": "owner_email",
    "org admin": "org_admin_email",
    "org member": "member_email",
}
SKIPPED_POSTS = {"auth.logout"}  # ends the session the rest of the walk uses
# Forms that may lock an actor out when a payload is valid (a multi-line reason): last.
LAST = ("suspend", "delete", "remove", "revoke", "ownership", "start", "return", "deactivate")

READ_ARGS: set[str] = set()


class TrackingArgs(ImmutableMultiDict):
    """Query parameters that note which names the page asked for."""

    def get(self, key, default=None, type=None):
        READ_ARGS.add(key)
        return super().get(key, default, type)

    def getlist(self, key, type=None):
        READ_ARGS.add(key)
        return super().getlist(key, type)

    def __getitem__(self, key):
        READ_ARGS.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        READ_ARGS.add(key)
        return super().__contains__(key)


@pytest.fixture
def app_config(app_config):
    return {**app_config, "WTF_CSRF_ENABLED": True}


def fill(world, rule: str, endpoint: str, **junk) -> str:
    return re.sub(
        r"<(?:[^:<>]+:)?([^<>]+)>",
        lambda m: junk.get(m.group(1)) or own_value(world, m.group(1), endpoint),
        rule,
    )


class Walk:
    def __init__(self):
        self.failures: list[str] = []
        self.calls = 0

    def check(self, who: str, method: str, url: str, response, *, refused_form=False) -> None:
        self.calls += 1
        body = response.get_data()
        response.close()
        status = response.status_code
        where = f"{who}: {method} {url[:120]!r}"
        if status >= 500:
            self.failures.append(f"{where} -> {status}")
        elif status == 200 and response.mimetype == "text/csv":
            problem = csv_problem(body)
            if problem:
                self.failures.append(f"{where}: CSV {problem}")
        elif refused_form and status == 200:
            self.failures.append(f"{where}: a refused form answered 200")


def csv_problem(body: bytes) -> str | None:
    if not body.endswith(b"\n"):
        return "does not end with a line break (cut off?)"
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    widths = {len(row) for row in rows}
    return None if len(widths) == 1 else f"has rows of {sorted(widths)} columns"


def web_rules(app, method: str):
    rules = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api.") or rule.endpoint == "static":
            continue
        if method in (rule.methods or ()) and rule.endpoint not in SKIPPED_POSTS:
            rules.append(rule)
    return sorted(rules, key=lambda r: (r.rule, r.endpoint))


def read_args(client, url: str) -> list[str]:
    READ_ARGS.clear()
    response = client.get(url)
    response.get_data()
    response.close()
    return sorted(READ_ARGS)


def walk_get_page(walk: Walk, world, clients, rule, turn: int) -> None:
    """The page's own actor: each parameter with NUL and each odd value, then junk ids;
    every other role: all the parameters at once, with two payloads in rotation."""
    actor = actor_for(rule.endpoint)
    client = clients[actor]
    url = fill(world, rule.rule, rule.endpoint)
    names = read_args(client, url) or ["q"]
    for name in names:
        for payload in [REFUSED[0], *ODD]:
            walk.check(actor, "GET", url, client.get(url, query_string={name: payload}))
    walk.check(actor, "GET", url, client.get(url, query_string=dict.fromkeys(names, REFUSED[3])))
    for variable in sorted(rule.arguments):
        if variable.endswith("_id"):
            for junk in JUNK_IDS:
                junk_url = fill(world, rule.rule, rule.endpoint, **{variable: junk})
                walk.check(actor, "GET", junk_url, client.get(junk_url))
    for index, (role, other) in enumerate(sorted(clients.items())):
        if role in (actor, "visitor"):
            continue
        for step in range(2):
            payload = PAYLOADS[(turn + index * 2 + step) % len(PAYLOADS)]
            query = dict.fromkeys(names, payload)
            walk.check(role, "GET", url, other.get(url, query_string=query))


def walk_api(walk: Walk, world, client, keys) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    for path, item in sorted(document["paths"].items()):
        operation = item.get("get")
        if operation is None:
            continue
        url = "/api/v1" + re.sub(
            r"\{([^}]+)\}", lambda m: own_value(world, m.group(1), "api"), path
        )
        names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
        for turn, (role, key) in enumerate(keys.items()):
            headers = {"Authorization": f"Bearer {key}"}
            for payload in PAYLOADS:
                if turn == 0:  # each parameter on its own
                    for name in names:
                        response = client.get(url, query_string={name: payload}, headers=headers)
                        walk.check(role, "GET", url, response)
                elif names:  # all of them at once
                    query = dict.fromkeys(names, payload)
                    walk.check(
                        role, "GET", url, client.get(url, query_string=query, headers=headers)
                    )
            for variable in re.findall(r"\{([^}]+)\}", path):
                for junk in JUNK_IDS:
                    junk_url = "/api/v1" + re.sub(
                        r"\{([^}]+)\}",
                        lambda m, v=variable, j=junk: (
                            j if m.group(1) == v else own_value(world, m.group(1), "api")
                        ),
                        path,
                    )
                    walk.check(role, "GET", junk_url, client.get(junk_url, headers=headers))


ALL_FIELDS = sorted(
    {name for form in all_form_classes() for name in vars(form) if not name.startswith("_")}
    - {"Meta", "paths", "validate", "submit"}
)


def form_fields(client, url: str, rule) -> list[str]:
    if "GET" in (rule.methods or ()):
        page = client.get(url)
        names = set(re.findall(rb'name="([a-z_]+)"', page.get_data())) - {b"csrf_token"}
        page.close()
        if names:
            return sorted(name.decode() for name in names)
    return ALL_FIELDS


def csrf_token(client, actor: str) -> str:
    page = client.get("/login" if actor == "visitor" else "/profile/", follow_redirects=True)
    token = CSRF_TOKEN.search(page.get_data()).group(1).decode()
    page.close()
    return token


def walk_form(walk: Walk, app, world, emails, rule) -> bool:
    """Junk in every field of the form, with a real CSRF token, by the rule's own actor
    (freshly logged in: a form may end its session or start a support session); False when
    an earlier form locked the actor out (suspended their organization)."""
    actor = actor_for(rule.endpoint)
    url = fill(world, rule.rule, rule.endpoint)
    try:
        client = log_in(app, emails[actor]) if actor != "visitor" else app.test_client()
    except AssertionError:
        return False
    fields = form_fields(client, url, rule)
    for number, payload in enumerate([REFUSED[0], REFUSED[2], REFUSED[3], ODD[0]]):
        data = dict.fromkeys(fields, payload)
        data["csrf_token"] = csrf_token(client, actor)
        response = client.post(url, data=data)
        # NUL is refused by every text field: the page shows the refused form with 422.
        walk.check(actor, "POST", url, response, refused_form=number == 0)
    return True


# Once, on PostgreSQL: the database that refuses a NUL in text (SQLite stores it), 100 s.
@pytest.mark.postgres_only
def test_junk_input_never_breaks_a_page_an_api_call_or_a_csv(app, world):
    a = world.a
    emails = {role: getattr(world, attr, None) or getattr(a, attr) for role, attr in ROLES.items()}
    clients = {role: log_in(app, email) for role, email in emails.items()}
    clients["visitor"] = app.test_client()
    app.request_class = type("TrackingRequest", (app.request_class,), {})
    app.request_class.parameter_storage_class = TrackingArgs

    walk = Walk()
    started = time.monotonic()
    walk_api(
        walk, world, app.test_client(), {"reseller key": a.reseller_secret, "org key": a.org_secret}
    )
    for turn, rule in enumerate(web_rules(app, "GET")):
        walk_get_page(walk, world, clients, rule, turn)
    posts = sorted(web_rules(app, "POST"), key=lambda r: any(w in r.endpoint for w in LAST))
    skipped = [rule.endpoint for rule in posts if not walk_form(walk, app, world, emails, rule)]
    assert len(skipped) <= 3, skipped

    took = time.monotonic() - started
    assert walk.calls > 1500
    assert not walk.failures, f"{len(walk.failures)} of {walk.calls} calls ({took:.0f} s):\n" + (
        "\n".join(walk.failures[:80])
    )
