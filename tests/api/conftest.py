"""Fixtures for the JSON API: keys, a small JSON client, and two resellers' customers."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from flask.testing import FlaskClient

from tenants.access.actors import SYSTEM
from tenants.core.extensions import db
from tenants.jobs.outbox import commit
from tests.conftest import owner_of


@pytest.fixture
def create_api_key(app):
    def _create(reseller=None, organization=None, name="test key") -> str:
        from tenants.api_keys.operations import create_api_key as create
        from tenants.models import Reseller

        if reseller is None:
            reseller = db.session.get(Reseller, organization.reseller_id)
        _key, secret = create(SYSTEM, reseller=reseller, organization=organization, name=name)
        commit()
        return secret

    return _create


class Api:
    """``api.post("/organizations", key, {...})`` → the response, ``.json`` parsed."""

    def __init__(self, client: FlaskClient):
        self.client = client

    def call(
        self,
        method: str,
        path: str,
        key: str | None,
        body: Any = None,
        *,
        raw: str | bytes | None = None,
        headers: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
    ):
        all_headers = dict(headers or {})
        if key is not None:
            all_headers["Authorization"] = f"Bearer {key}"
        data = raw if raw is not None else (None if body is None else json.dumps(body))
        if data is not None:
            all_headers.setdefault("Content-Type", "application/json")
        return self.client.open(
            "/api/v1" + path,
            method=method,
            data=data,
            headers=all_headers,
            query_string=query,
        )

    def get(self, path, key, **kw):
        return self.call("GET", path, key, **kw)

    def post(self, path, key, body=None, **kw):
        return self.call("POST", path, key, body, **kw)

    def patch(self, path, key, body=None, **kw):
        return self.call("PATCH", path, key, body, **kw)

    def put(self, path, key, body=None, **kw):
        return self.call("PUT", path, key, body, **kw)

    def delete(self, path, key, **kw):
        return self.call("DELETE", path, key, **kw)


@pytest.fixture
def api(client) -> Api:
    return Api(client)


@pytest.fixture
def tenants(create_reseller, create_organization, create_member, create_api_key):
    """Reseller A (Acme with an admin and a member, plus Beta) and reseller B (Zeta)."""
    a = create_reseller(name="Reseller A")
    b = create_reseller(name="Reseller B")
    acme = create_organization(a, name="Acme", owner_password=None)
    beta = create_organization(a, name="Beta", pricing_model="postpaid", owner_password=None)
    zeta = create_organization(b, name="Zeta", owner_password=None)
    return SimpleNamespace(
        a=a,
        b=b,
        acme=acme,
        beta=beta,
        zeta=zeta,
        acme_owner=owner_of(acme),
        acme_admin=create_member(acme, role="admin", name="Ada Admin", password=None),
        acme_member=create_member(acme, role="member", name="Max Member", password=None),
        key_a=create_api_key(a),
        key_b=create_api_key(b),
        key_acme=create_api_key(organization=acme),
    )


def new_organization(**overrides) -> dict:
    body = {
        "name": "Nueva SL",
        "country": "ES",
        "pricing_model": "prepaid",
        "owner": {"name": "Nora Owner", "email": "nora@example.com"},
    }
    body.update(overrides)
    return body
