"""Schemathesis fuzzes every operation of /api/v1/openapi.json, once with a reseller key and
once with an organization key, and runs all its checks on every answer: never a server error,
every status code documented, body and content type as documented, negative data refused.

Path ids are real seeded records part of the time (the rest generated), so the operations are
exercised past their 404. Generation is derandomized and bounded so CI stays reproducible.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import schemathesis
from flask import g
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig

from tests.api.test_invoices_api import buy
from tests.credits.conftest import set_credit_prices

MAX_EXAMPLES = 25
# Operations that destroy the seeded records run last, so the others still find them.
LAST = ("DELETE",)
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            # Schema-valid data may still be refused for what JSON Schema cannot state: 402
            # (not enough credits), 409 (state), 422 for rules on state or on several fields
            # (an unknown cursor or member, from == to, a payment method the key may not use).
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "401", "402", "403", "404", "409", "422"]
            }
        }
    }
)


@pytest.fixture
def app_config(app_config):
    # Rate limiting (429) is covered by test_rate_limit; here it would only starve the fuzzer.
    return {**app_config, "API_RATE_LIMIT": "1000000/minute"}


@pytest.fixture
def seeded(api, tenants):
    """Prices and two receipts, so invoice ids in paths have real targets too."""
    set_credit_prices(tenants.a)
    receipts = [buy(api, tenants, 1000), buy(api, tenants, 500)]
    return tenants, receipts


def _fresh_g_app(app):
    """The app as WSGI, each request starting with an empty ``g`` (see FreshRequestClient)."""

    def wsgi(environ, start_response):
        vars(g._get_current_object()).clear()
        return app(environ, start_response)

    return wsgi


def _fuzz(app, key: str, ids: dict[str, list[str]]) -> list[str]:
    schema = schemathesis.openapi.from_wsgi(
        "/api/v1/openapi.json", _fresh_g_app(app), config=CONFIG
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    operations.sort(key=lambda op: (op.method.upper() in LAST, op.path, op.method))
    headers = {"Authorization": f"Bearer {key}"}
    failures: list[str] = []

    for operation in operations:
        try:
            _fuzz_operation(operation, headers, ids)()
        # Collect every operation's findings (Schemathesis raises a group), report them together.
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"{operation.method.upper()} {operation.path}:\n{exc}")
    return failures


def _fuzz_operation(operation, headers: dict[str, str], ids: dict[str, list[str]]):
    names = re.findall(r"{([^}]+)}", operation.path)

    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def run(data):
        fixed: dict[str, Any] = {}
        for name in names:
            choice = data.draw(st.sampled_from([*ids.get(name, []), None]), label=name)
            if choice is not None:
                fixed[name] = choice
        mode = data.draw(st.sampled_from([GenerationMode.POSITIVE, GenerationMode.NEGATIVE]))
        case = data.draw(operation.as_strategy(mode, path_parameters=fixed or None))
        case.call_and_validate(headers=headers)

    return run


def test_fuzz_with_a_reseller_key(app, seeded):
    tenants, receipts = seeded
    ids = {
        "org_id": [tenants.acme.id, tenants.beta.id],
        "member_id": [tenants.acme_admin.id, tenants.acme_member.id, tenants.acme_owner.id],
        "invoice_id": receipts,
    }
    failures = _fuzz(app, tenants.key_a, ids)
    assert not failures, "\n\n".join(failures)


def test_fuzz_with_an_organization_key(app, seeded):
    tenants, receipts = seeded
    ids = {
        "org_id": [tenants.acme.id],
        "member_id": [tenants.acme_admin.id, tenants.acme_member.id, tenants.acme_owner.id],
        "invoice_id": receipts,
    }
    failures = _fuzz(app, tenants.key_acme, ids)
    assert not failures, "\n\n".join(failures)
