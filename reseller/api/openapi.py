"""The OpenAPI 3.1 document, built from the very operations and schemas the endpoints use."""

from __future__ import annotations

import re
from typing import Any

from flask import Response, current_app

from reseller.api import idempotency, schemas
from reseller.api.core import OPERATIONS, Operation, done, endpoint

DESCRIPTION = """\
JSON API for resellers' own systems. Authenticate with `Authorization: Bearer <api key>`.
A **reseller key** (`rk_live_…`) acts as the reseller's admin over its customers; an
**organization key** (`ok_live_…`) acts as that organization's admin and sees nothing else.
Keys of a suspended reseller or organization are refused with 403 (`reseller_suspended`,
`organization_suspended`); a missing, unknown or revoked key, or a key of a deleted
organization, with 401 (`invalid_api_key`).

Errors always read `{"error": {"code", "message", "fields"}}`; `message` is in the
language of `Accept-Language` (English or Spanish). Unknown fields or query parameters,
wrong types, non-integer or non-positive numbers and out-of-range values are refused with
422 and a message per field path (e.g. `billing.name`, `prices[0].currency`), never
silently ignored. Money is a decimal string (`"12.50"`), credits an integer, times
ISO 8601 UTC (`2026-11-27T10:00:00Z`).

Every POST accepts an `Idempotency-Key` header (1 to 255 printable ASCII
characters, no leading or trailing space; kept 24 hours): a
repeat with the same key and body returns the first answer (same status and body, header
`Idempotent-Replayed: true`) and has no second effect; the same key with another body is
refused with 409 `idempotency_key_reused`, and while the first request still runs with
409 `idempotency_key_in_progress`. A refused request (4xx) stores nothing.

Each key is rate limited (429 `rate_limited` with `Retry-After`; `X-RateLimit-*` headers).

Login-as (remote support sessions) is a web-only feature: it has no API.
"""

ERROR_TEXT = {
    400: "Malformed JSON or header",
    401: "Missing, unknown or revoked API key",
    402: "Insufficient credits",
    403: "Allowed to see but not to do (or the key's tenant is suspended)",
    404: "Not found, or another tenant's record",
    409: "State conflict",
    413: "Body too large",
    422: "Validation failed (see fields)",
    429: "Rate limited (see Retry-After)",
}


def _path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", "/api/v1" + rule)


def _parameters(op: Operation) -> list[dict[str, Any]]:
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"<(?:[^:<>]+:)?([^<>]+)>", op.rule)
    ]
    if op.query is not None:
        params += [
            {"name": name, "in": "query", "required": False, "schema": spec.json_schema()}
            for name, spec in op.query.properties.items()
        ]
    if op.method == "POST":
        params.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": idempotency.MAX_KEY_LENGTH,
                    "pattern": f"^{idempotency.KEY_PATTERN}$",
                },
                "description": "Repeat with the same key and body: the first answer, once.",
            }
        )
    return params


def _error(status: int) -> dict[str, Any]:
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    response: dict[str, Any] = {"description": ERROR_TEXT.get(status, "Error"), "content": content}
    if status == 429:
        response["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
    return response


def _operation(op: Operation) -> dict[str, Any]:
    result: dict[str, Any] = {
        "operationId": op.endpoint,
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": _parameters(op),
    }
    description = op.description
    if op.reseller_only:
        description = f"{description} Reseller keys only.".strip()
    if description:
        result["description"] = description
    if op.method in ("POST", "PUT", "PATCH"):
        body = op.body or schemas.EMPTY
        result["requestBody"] = {
            "required": op.body is not None and bool(op.body.required),
            "content": {"application/json": {"schema": body.ref()}},
        }
    if op.status == 204:
        success: dict[str, Any] = {"description": "Done, no content"}
    else:
        success = {"description": "OK" if op.status == 200 else "Created"}
        if op.media_type != "application/json":
            file = {"type": "string", "contentMediaType": op.media_type}
            success["content"] = {op.media_type: {"schema": file}}
        elif op.response is not None:
            success["content"] = {"application/json": {"schema": op.response.ref()}}
    responses: dict[str, Any] = {str(op.status): success}
    statuses = {401, 429, *op.errors}
    if op.rule != "/organizations" or op.method == "POST":
        statuses.add(404)
    if op.method in ("POST", "PUT", "PATCH"):
        statuses |= {400, 413, 422}
    if op.query is not None:
        statuses.add(422)
    if op.method == "POST":
        statuses.add(409)
    if not op.auth:
        statuses = set()
        result["security"] = []
    for status in sorted(statuses):
        responses[str(status)] = _error(status)
    result["responses"] = responses
    return result


def build_document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    components: dict[str, Any] = {}
    for op in OPERATIONS:
        paths.setdefault(_path(op.rule), {})[op.method.lower()] = _operation(op)
        for spec in (op.body, op.response):
            if isinstance(spec, schemas.Object):
                for named in spec.named():
                    components[named.name] = named.json_schema()
    for named in (*schemas.ERROR.named(), *schemas.EMPTY.named()):
        components[named.name] = named.json_schema()
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "SMS Reseller Portal API",
            "version": "1.0.0",
            "description": DESCRIPTION,
        },
        "servers": [{"url": current_app.config.get("PORTAL_URL", "") or "/"}],
        "security": [{"bearerAuth": []}],
        "tags": [{"name": name} for name in dict.fromkeys(op.tag for op in OPERATIONS)],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A reseller (rk_live_…) or organization (ok_live_…) key.",
                }
            },
        },
    }


@endpoint(
    "/openapi.json",
    "GET",
    summary="This OpenAPI document",
    tag="Meta",
    auth=False,
    description="Public; no key needed.",
)
def openapi_document() -> Response:
    return done(build_document())
