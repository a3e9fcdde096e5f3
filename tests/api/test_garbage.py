"""Every POST, PUT and PATCH answers garbage with a 4xx JSON error, never a 500."""

from __future__ import annotations

import json
import re

import pytest

from tests.api.test_auth_and_errors import assert_error

GARBAGE_VALUES = [
    None,
    True,
    0,
    -1,
    1.5,
    10**30,
    "",
    "x" * 10_000,
    "\x00\x01",
    [],
    [1, "a"],
    {},
    {"nested": {"deep": [None]}},
]

RAW_BODIES = [
    "",
    "null",
    "{",
    "[]",
    '"text"',
    "1e400",
    "9" * 5000,
    '{"a": NaN}',
    r'{"name": "\ud800", "reason": "\udfff", "member_id": "\ud800"}',
    b"\xed\xa0\x80",
    r'{"\ud800": 1, "name\u0000": "x\u0000"}',
    "{" * 3000 + "}" * 3000,
]


def write_operations(app, tenants):
    """(method, path) of every state-changing /api/v1 route, ids filled in."""
    from tenants.access.actors import SYSTEM
    from tenants.contacts.operations import create_list
    from tenants.jobs.outbox import commit

    member = tenants.acme_member.id
    contact_list = create_list(SYSTEM, tenants.acme, name="Garbage")
    commit()
    contacts = {"<list_id>": contact_list.id, "<contact_id>": "ct_missing", "<import_id>": "cim_x"}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = rule.rule.removeprefix("/api/v1")
        path = path.replace("<org_id>", tenants.acme.id).replace("<member_id>", member)
        path = path.replace("<invoice_id>", "inv_missing").replace("<payment_id>", "pay_missing")
        for variable, value in contacts.items():
            path = path.replace(variable, value)
        path = path.replace("<message_id>", "msg_missing").replace("<campaign_id>", "cmp_x")
        assert not re.search(r"<[^>]+>", path), path
        for method in sorted(rule.methods & {"POST", "PUT", "PATCH"}):
            yield method, path


def body_fields(app, method, path):
    """The names the operation accepts at the top level, to fill with garbage."""
    from reseller.api.core import OPERATIONS

    for op in OPERATIONS:
        pattern = re.sub(r"<[^>]+>", r"[^/]+", op.rule)
        if op.method == method and re.fullmatch(pattern, path) and op.body is not None:
            return [field.alias or name for name, field in op.body.model_fields.items()]
    return []


@pytest.mark.parametrize("as_org_key", [False, True])
def test_garbage_never_causes_a_500(app, api, tenants, as_org_key):
    key = tenants.key_acme if as_org_key else tenants.key_a
    for method, path in write_operations(app, tenants):
        for raw in RAW_BODIES:
            response = api.call(method, path, key, raw=raw)
            assert response.status_code < 500, (method, path, raw[:20])
            assert response.is_json or response.status_code == 204
        for value in GARBAGE_VALUES:
            bodies = [value, {"unknown": value}]
            bodies += [{name: value} for name in body_fields(app, method, path)]
            for body in bodies:
                response = api.call(
                    method, path, key, raw=json.dumps(body), headers={"Idempotency-Key": "g"}
                )
                assert response.status_code < 500, (method, path, body)
                assert response.is_json or response.status_code == 204


def test_wrong_content_type_is_still_strict(api, tenants):
    response = api.post(
        "/organizations",
        tenants.key_a,
        raw="name=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_error(response, 400, "malformed_json")


GARBAGE_QUERIES = [
    {"cursor": "!!!"},
    {"cursor": "eyJuIjogMX0"},
    {"cursor": "x" * 201},
    {"limit": "1e3"},
    {"limit": "-1"},
    {"limit": "99999999999999999999"},
    {"q": "\x00%_'"},
    {"q": "x" * 5000},
    {"status": ""},
    {"low_balance": "maybe"},
]


def test_garbage_queries_and_ids_never_cause_a_500(api, tenants):
    paths = ["/organizations", f"/organizations/{tenants.acme.id}/members"]
    for path in paths:
        for query in GARBAGE_QUERIES:
            response = api.get(path, tenants.key_a, query=query)
            # An address over 4,000 bytes is answered 414 (documented), before validation.
            assert response.status_code in (200, 414, 422), (path, query, response.json)
    for bad_id in ("x" * 500, "%00", "%01", "org_' OR 1=1 --", "🙂", "%ED%A0%80"):
        for path in (
            f"/organizations/{bad_id}",
            f"/organizations/{tenants.acme.id}/members/{bad_id}",
        ):
            response = api.get(path, tenants.key_a)
            assert_error(response, 404, "not_found")
