"""The OpenAPI 3.1 document, built from the very operations and schemas the endpoints use."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from flask import Response, current_app
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, models_json_schema

import reseller.api.idempotency as idempotency
from reseller.api.core import MAX_URL_BYTES, OPERATIONS, PATH_ID, Operation, done, endpoint
from reseller.api.schemas import EmptyRequest, Error
from reseller.api.spec import COMPONENTS

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

Every POST made with an API key accepts an `Idempotency-Key` header (1 to 255 printable ASCII
characters, no leading or trailing space; kept 24 hours): a
repeat with the same key and body returns the first answer (same status and body, header
`Idempotent-Replayed: true`) and has no second effect; the same key with another body is
refused with 409 `idempotency_key_reused`, and while the first request still runs with
409 `idempotency_key_in_progress`. A refused request (4xx) stores nothing.

Each key is rate limited, 6,000 requests a minute by default, counted in a moving window
across every endpoint (a request without a valid key is counted per address): past it, 429
`rate_limited` with `Retry-After` (seconds). Answers carry `X-RateLimit-Limit`,
`X-RateLimit-Remaining` and `X-RateLimit-Reset` (seconds until a request frees up).

While the database cannot be reached (a restart, a lost connection) every operation
answers 503 `service_unavailable` with `Retry-After` (seconds), never 500: send the same
request again then. A POST that got 503 was applied whole or not at all; repeated with the
same `Idempotency-Key` (or a usage with the same `reference`) it has no second effect.

A ledger entry's `balance_after` is the balance of its account after the movement, as the
balance (`system_credits`, `users[].credits`) shows it. A postpaid organization's usage is
billed (`unbilled`, `debt`, invoices), not deducted: its accounts hold 0 credits, and the
`balance_after` of its usage, invoice and payment movements is 0.

A method a path does not have is answered 405 with the `Allow` header; an address (path
and query) longer than 4000 bytes, 414 `uri_too_long`. A request this document accepts may
still be refused with 422 only on the fields its operation's 422 answer names (rules on
state or across fields, e.g. an unknown member or a transfer to the same account).

Login-as (remote support sessions) is a web-only feature: it has no API.
"""


class ApiJsonSchema(GenerateJsonSchema):
    """Pydantic's JSON Schema without generated titles and without ``default: null``."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def model_schema(self, schema: Any) -> dict[str, Any]:
        result = super().model_schema(schema)
        result.pop("title", None)
        return result

    def default_schema(self, schema: Any) -> dict[str, Any]:
        result = super().default_schema(schema)
        if result.get("default", 0) is None:
            result.pop("default")
        return result


def components(models: Iterable[type[BaseModel]]) -> dict[str, Any]:
    """``components/schemas`` of the models and every model and named type inside them."""
    _keys, top = models_json_schema(
        [(model, "validation") for model in dict.fromkeys(models)],
        ref_template=COMPONENTS,
        schema_generator=ApiJsonSchema,
    )
    return top.get("$defs", {})


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema(ref_template=COMPONENTS, schema_generator=ApiJsonSchema)


ERROR_TEXT = {
    400: "Malformed JSON or header",
    401: "Missing, unknown or revoked API key",
    402: "Insufficient credits",
    403: "Allowed to see but not to do (or the key's tenant is suspended)",
    404: "Not found, or another tenant's record",
    409: "State conflict",
    413: "Body too large",
    414: f"The address (path and query) is longer than {MAX_URL_BYTES} bytes",
    422: "Validation failed (see fields)",
    429: "Rate limited (see Retry-After)",
    503: "The database is briefly unreachable: try again after Retry-After seconds",
}


# ---------------------------------------------------------------------------
# Links: how an answer's ids feed the next calls (a created organization's id into its reads,
# edits, members and credits), for clients and for stateful testing.

# What an organization id unlocks: every operation under /organizations/{org_id}.
ORGANIZATION_OPERATIONS = (
    "get_organization",
    "update_organization",
    "suspend_organization",
    "reactivate_organization",
    "delete_organization",
    "transfer_ownership",
    "list_members",
    "add_member",
    "get_balance",
    "create_purchase",
    "create_transfer",
    "create_withdrawal",
    "record_usage",
    "list_movements",
    "movements_csv",
    "list_invoices",
    "record_payment",
    "issue_final_invoice",
    "list_contact_lists",
    "create_contact_list",
    "list_opt_outs",
    "add_opt_outs",
    "send_message",
    "list_messages",
)
MEMBER_OPERATIONS = ("get_member", "update_member", "remove_member")
INVOICE_OPERATIONS = ("get_invoice", "invoice_pdf")
CONTACT_LIST_OPERATIONS = (
    "get_contact_list",
    "update_contact_list",
    "delete_contact_list",
    "list_contacts",
    "add_contacts",
)


def _links(operations: tuple[str, ...], parameters: dict[str, str]) -> dict[str, Any]:
    return {
        "".join(part.title() for part in operation.split("_")): {
            "operationId": operation,
            "parameters": parameters,
        }
        for operation in operations
    }


def _owner_transfer(org_id: str) -> dict[str, Any]:
    return {
        "TransferOwnershipToMember": {
            "operationId": "transfer_ownership",
            "parameters": {"org_id": org_id},
            "requestBody": {"member_id": "$response.body#/id", "reason": "Support case"},
        }
    }


LINKS: dict[str, dict[str, Any]] = {
    "create_organization": _links(ORGANIZATION_OPERATIONS, {"org_id": "$response.body#/id"}),
    "get_organization": _links(ORGANIZATION_OPERATIONS, {"org_id": "$response.body#/id"}),
    "list_organizations": _links(ORGANIZATION_OPERATIONS, {"org_id": "$response.body#/data/0/id"}),
    "add_member": {
        **_links(
            MEMBER_OPERATIONS,
            {"org_id": "$request.path.org_id", "member_id": "$response.body#/id"},
        ),
        **_owner_transfer("$request.path.org_id"),
    },
    "list_members": _links(
        MEMBER_OPERATIONS,
        {"org_id": "$request.path.org_id", "member_id": "$response.body#/data/0/id"},
    ),
    "create_purchase": _links(INVOICE_OPERATIONS, {"invoice_id": "$response.body#/receipt_id"}),
    "list_invoices": _links(INVOICE_OPERATIONS, {"invoice_id": "$response.body#/data/0/id"}),
    "issue_final_invoice": _links(INVOICE_OPERATIONS, {"invoice_id": "$response.body#/id"}),
    "create_contact_list": _links(
        CONTACT_LIST_OPERATIONS,
        {"org_id": "$request.path.org_id", "list_id": "$response.body#/id"},
    ),
    "list_contact_lists": _links(
        CONTACT_LIST_OPERATIONS,
        {"org_id": "$request.path.org_id", "list_id": "$response.body#/data/0/id"},
    ),
    "send_message": _links(
        ("get_message",), {"org_id": "$request.path.org_id", "message_id": "$response.body#/id"}
    ),
    "list_messages": _links(
        ("get_message",),
        {"org_id": "$request.path.org_id", "message_id": "$response.body#/data/0/id"},
    ),
    "record_payment": _links(
        ("void_payment",), {"org_id": "$request.path.org_id", "payment_id": "$response.body#/id"}
    ),
}


# ---------------------------------------------------------------------------
# The document


def _path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", "/api/v1" + rule)


def _parameters(op: Operation) -> list[dict[str, Any]]:
    params = [
        {"name": name, "in": "path", "required": True, "schema": PATH_ID.json_schema()}
        for name in re.findall(r"<(?:[^:<>]+:)?([^<>]+)>", op.rule)
    ]
    if op.query is not None:
        properties = json_schema(op.query)["properties"]
        params += [
            {"name": name, "in": "query", "required": False, "schema": schema}
            for name, schema in properties.items()
        ]
    if op.method == "POST" and op.auth:  # keys are per API key; callbacks are idempotent anyway
        params.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": idempotency.KEY.json_schema(),
                "description": "Repeat with the same key and body: the first answer, once.",
            }
        )
    return params


def _error(status: int, op: Operation) -> dict[str, Any]:
    content = {"application/json": {"schema": {"$ref": COMPONENTS.format(model="Error")}}}
    description = ERROR_TEXT.get(status, "Error")
    if status == 422 and op.refusals:
        reasons = "; ".join(f"`{path}`: {why}" for path, why in op.refusals.items())
        description = (
            f"{description}. A request this document accepts is refused only for {reasons}"
        )
    response: dict[str, Any] = {"description": description, "content": content}
    if status in (429, 503):
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
        body = op.body or EmptyRequest
        required = any(field.is_required() for field in body.model_fields.values())
        content: dict[str, Any] = {"application/json": {"schema": _ref(body)}}
        if op.csv_body:
            content["text/csv"] = {"schema": {"type": "string", "contentMediaType": "text/csv"}}
        result["requestBody"] = {"required": required, "content": content}
    if op.status == 204:
        success: dict[str, Any] = {"description": "Done, no content"}
    else:
        success = {"description": "OK" if op.status == 200 else "Created"}
        if op.media_type != "application/json":
            file = {"type": "string", "contentMediaType": op.media_type}
            success["content"] = {op.media_type: {"schema": file}}
        elif op.response is not None:
            success["content"] = {"application/json": {"schema": _ref(op.response)}}
    if op.endpoint in LINKS:
        success["links"] = LINKS[op.endpoint]
    responses: dict[str, Any] = {str(op.status): success}
    for status, when in op.also.items():
        responses[str(status)] = {**success, "description": when}
    # Any query parameter the operation does not declare is refused with 422.
    statuses = {401, 414, 422, 429, 503, *op.errors}
    if op.rule != "/organizations" or op.method == "POST":
        statuses.add(404)
    if op.method in ("POST", "PUT", "PATCH"):
        statuses |= {400, 413}
    if op.method == "POST":
        statuses.add(409)
    if not op.auth:
        statuses = {414, 503, *op.errors}
        result["security"] = []
    for status in sorted(statuses):
        responses[str(status)] = _error(status, op)
    result["responses"] = responses
    return result


def _ref(model: type) -> dict[str, str]:
    return {"$ref": COMPONENTS.format(model=model.__name__)}


def build_document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(_path(op.rule), {})[op.method.lower()] = _operation(op)
    models = [model for op in OPERATIONS for model in (op.body, op.response) if model]
    schemas = components([*models, Error, EmptyRequest])
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
            "schemas": dict(sorted(schemas.items())),
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
