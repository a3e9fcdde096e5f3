"""OpenAPI links: how an answer's ids feed the next calls (a created organization's id into
its reads, edits, members and credits), for clients and for stateful testing."""

from __future__ import annotations

from typing import Any

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
)
MEMBER_OPERATIONS = ("get_member", "update_member", "remove_member")
INVOICE_OPERATIONS = ("get_invoice", "invoice_pdf")


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
            "requestBody": {"member_id": "$response.body#/id"},
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
}
