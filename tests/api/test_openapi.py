"""/api/v1/openapi.json: a valid OpenAPI 3.1 document listing every /api/v1 route."""

from __future__ import annotations

import re

from openapi_spec_validator import validate


def test_document_is_valid_openapi_3_1(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json
    assert document["openapi"].startswith("3.1")
    validate(document)
    assert "web-only" in document["info"]["description"]
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_every_registered_route_is_documented(app, client):
    document = client.get("/api/v1/openapi.json").json
    documented = {
        (path, method.upper()) for path, ops in document["paths"].items() for method in ops
    }
    registered = {
        (re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule), method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert registered == documented


def test_every_operation_documents_body_errors_and_security(client):
    document = client.get("/api/v1/openapi.json").json
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            if path.endswith("openapi.json"):
                assert operation["security"] == []
                continue
            assert {"401", "429"} <= set(responses), (method, path)
            if method in ("post", "put", "patch"):
                assert "requestBody" in operation
                assert {"400", "422"} <= set(responses)
            if method == "post":
                # Every POST with an API key takes one; the gateway's signed callbacks (no key,
                # idempotent by their references) document none: they would not keep it.
                keyed = operation.get("security") != []  # absent: the document's bearer key
                named = any(p["name"] == "Idempotency-Key" for p in operation["parameters"])
                assert named == keyed, (method, path)
            for status, answer in responses.items():
                if int(status) >= 400:
                    assert answer["content"]["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/Error"
                    }


def test_the_document_uses_the_schemas_the_endpoints_validate_with(client):
    from reseller.api.openapi import json_schema
    from reseller.api.schemas import OrganizationCreate

    document = client.get("/api/v1/openapi.json").json
    components = document["components"]["schemas"]
    own = json_schema(OrganizationCreate)
    own.pop("$defs")
    assert components["OrganizationCreate"] == own
    create = document["paths"]["/api/v1/organizations"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/OrganizationCreate"
    }
    assert components["OrganizationCreate"]["additionalProperties"] is False
