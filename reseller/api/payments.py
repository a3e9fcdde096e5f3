"""API: payments of postpaid organizations and their void (reseller keys only)."""

from __future__ import annotations

from typing import Any

from flask import Response

from reseller.api.core import done, endpoint
from reseller.api.schemas_credits import Payment as PaymentOut
from reseller.api.schemas_credits import PaymentCreate, PaymentVoid
from reseller.api.serializers import money, timestamp
from tenants.access import scoping
from tenants.access.actors import Actor
from tenants.billing import payments, postpaid
from tenants.models import Payment

TAG = "Payments"


def payment(record: Payment, debt) -> dict[str, Any]:
    return {
        "id": record.id,
        "organization_id": record.organization_id,
        "amount": money(record.amount, record.currency),
        "currency": record.currency,
        "reference": record.reference,
        "status": record.status.value,
        "created_at": timestamp(record.created_at),
        "voided_at": timestamp(record.voided_at) if record.voided_at else None,
        "void_reason": record.void_reason,
        "debt": money(debt, record.currency),
    }


@endpoint(
    "/organizations/<org_id>/payments",
    "POST",
    summary="Record a payment (postpaid)",
    tag=TAG,
    body=PaymentCreate,
    response=PaymentOut,
    status=201,
    errors=(403, 409),
    reseller_only=True,
    refusals={"amount": "more than the debt, or more decimals than the currency has"},
    description="Money received from a postpaid organization: it settles open invoices, "
    "oldest first; beyond them it settles the next ones. More than the debt is refused "
    "(422); a prepaid organization answers 409 `not_postpaid`.",
)
def record_payment(actor: Actor, org_id: str, body: PaymentCreate) -> Response:
    org = scoping.get_organization(actor, org_id)
    record = payments.record_payment(actor, org, body.amount, body.reference)
    return done(payment(record, postpaid.organization_debt(org)), 201)


@endpoint(
    "/organizations/<org_id>/payments/<payment_id>/void",
    "POST",
    summary="Void a payment (postpaid)",
    tag=TAG,
    body=PaymentVoid,
    response=PaymentOut,
    errors=(403, 409),
    reseller_only=True,
    description="Undoes a recorded payment: a reversing ledger entry (`payment_void`) puts "
    "its amount back on the debt (first what it paid ahead, then the invoices it paid, "
    "which are open again). Another organization's payment is 404; a payment already void "
    "answers 409 `payment_already_void`.",
)
def void_payment(actor: Actor, org_id: str, payment_id: str, body: PaymentVoid) -> Response:
    org = scoping.get_organization(actor, org_id)
    record = payments.void_payment(actor, org, payment_id, body.reason)
    return done(payment(record, postpaid.organization_debt(org)))
