"""Usage (sent SMS) for any organization: prepaid debits credits, postpaid accrues charges.

The API's ``POST …/usage`` comes through here. A usage reference is charged once per
organization (tenants.credits.references): a repeat charges nothing and answers with the
first entry.
"""

from __future__ import annotations

from datetime import datetime

from tenants.access.actors import Actor
from tenants.billing.postpaid import record_postpaid_usage
from tenants.credits import operations as credit_ops
from tenants.credits import references
from tenants.models import Organization, PricingModel


def record_usage(
    actor: Actor,
    org: Organization,
    *,
    credits: int,
    reference: str,
    account=None,
    occurred_at: datetime | None = None,
    claim: references.Claim | None = None,
) -> references.Recorded:
    """Charge ``credits`` SMS; InsufficientCredits (402) when credits or limit are short.
    A reference charged before charges nothing: the first entry, ``duplicate`` set."""
    record = (
        credit_ops.record_usage
        if org.pricing_model == PricingModel.PREPAID
        else record_postpaid_usage
    )
    return record(
        actor,
        org,
        credits=credits,
        reference=reference,
        account=account,
        occurred_at=occurred_at,
        claim=claim,
    )
