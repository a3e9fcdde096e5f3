"""API: payments of postpaid organizations (reseller keys only)."""

from __future__ import annotations

from typing import Any

from flask import Response

from reseller.api import schemas
from reseller.api.core import done, endpoint
from reseller.api.serializers import money, timestamp
from tenants.access import scoping
from tenants.access.actors import Actor
from tenants.billing import payments, postpaid
from tenants.models import Payment

TAG = "Payments"

PAYMENT_CREATE = schemas.Object(
    name="PaymentCreate",
    properties={
        "amount": schemas.Decimal(places=2, minimum="0.01", example="120.00"),
        "reference": schemas.String(
            min_length=None, nullable=True, description="e.g. the bank transfer's reference"
        ),
    },
    required=("amount",),
)
PAYMENT = schemas.Object(
    name="Payment",
    properties={
        "id": schemas.ID,
        "organization_id": schemas.ID,
        "amount": schemas.MONEY,
        "currency": schemas.CURRENCY,
        "reference": schemas.String(nullable=True),
        "created_at": schemas.TIME,
        "debt": schemas.Decimal(places=4, minimum="-99999999", description="Debt after it"),
    },
    required=("id", "organization_id", "amount", "currency", "reference", "created_at", "debt"),
)


def payment(record: Payment, debt) -> dict[str, Any]:
    return {
        "id": record.id,
        "organization_id": record.organization_id,
        "amount": money(record.amount, record.currency),
        "currency": record.currency,
        "reference": record.reference,
        "created_at": timestamp(record.created_at),
        "debt": money(debt, record.currency),
    }


@endpoint(
    "/organizations/<org_id>/payments",
    "POST",
    summary="Record a payment (postpaid)",
    tag=TAG,
    body=PAYMENT_CREATE,
    response=PAYMENT,
    status=201,
    errors=(403, 409),
    reseller_only=True,
    description="Money received from a postpaid organization: it settles open invoices, "
    "oldest first; beyond them it settles the next ones. More than the debt is refused "
    "(422); a prepaid organization answers 409 `not_postpaid`.",
)
def record_payment(actor: Actor, org_id: str, body: dict[str, Any]) -> Response:
    org = scoping.get_organization(actor, org_id)
    record = payments.record_payment(actor, org, body["amount"], body.get("reference"))
    return done(payment(record, postpaid.organization_debt(org)), 201)
