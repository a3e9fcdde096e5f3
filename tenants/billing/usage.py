"""Usage (sent SMS) for any organization: prepaid debits credits, postpaid accrues charges.

The API's ``POST …/usage`` and the portal's "send test SMS" both come through here.
"""

from __future__ import annotations

from datetime import datetime

from tenants.access.actors import Actor
from tenants.billing.postpaid import record_postpaid_usage
from tenants.credits import operations as credit_ops
from tenants.models import LedgerEntry, Organization, PricingModel


def record_usage(
    actor: Actor,
    org: Organization,
    *,
    credits: int,
    reference: str,
    account=None,
    occurred_at: datetime | None = None,
) -> LedgerEntry:
    """Charge ``credits`` SMS; InsufficientCredits (402) when credits or limit are short."""
    if org.pricing_model == PricingModel.PREPAID:
        return credit_ops.record_usage(
            actor,
            org,
            credits=credits,
            reference=reference,
            account=account,
            occurred_at=occurred_at,
        )
    return record_postpaid_usage(
        actor,
        org,
        credits=credits,
        reference=reference,
        account=account,
        occurred_at=occurred_at,
    )
