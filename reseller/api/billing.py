"""API: closing a postpaid organization's account — its final invoice (reseller keys only)."""

from __future__ import annotations

from flask import Response

import reseller.api.serializers as serializers
from reseller.api.core import done, endpoint
from reseller.api.schemas_credits import Invoice
from tenants.access import scoping
from tenants.access.actors import Actor
from tenants.billing.final_invoice import issue_final_invoice as issue

TAG = "Invoices"


@endpoint(
    "/organizations/<org_id>/final-invoice",
    "POST",
    summary="Issue the final invoice (postpaid)",
    tag=TAG,
    response=Invoice,
    status=201,
    errors=(403, 409),
    reseller_only=True,
    description="Invoices every unbilled charge of a suspended postpaid organization up to "
    "now, numbered like the monthly invoices and emailed to its billing contact; its period "
    "is the organization's current month, which it closes (usage after a reactivation goes "
    "on the next month's invoice). 409 `organization_active` until the organization is "
    "suspended, `nothing_to_invoice` when nothing is unbilled, `not_postpaid` for a prepaid "
    "organization. Once it is paid, the organization can be deleted.",
)
def issue_final_invoice(actor: Actor, org_id: str) -> Response:
    org = scoping.get_organization(actor, org_id)
    return done(serializers.invoice(issue(actor, org)), 201)
