"""A postpaid organization's log: its usage charges, invoices and payments (SPEC §4), read
from the ledger like the prepaid history (tenants.credits.movements), with the same filters,
pages, CSV and print report.

A postpaid organization's movements are all on its system account, whose balance stays 0
(tenants.credits.ledger.POSTPAID_BALANCE): the log shows what each charged, invoiced or paid
instead of an account and a balance.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, false

from tenants.access.actors import Actor
from tenants.core.errors import NotPostpaid
from tenants.credits import movements
from tenants.credits.export_rows import POSTPAID_CSV_COLUMNS, MovementRows
from tenants.models import EntryType, Organization, PricingModel

# What a postpaid organization's log lists (the filter's choices, in this order).
POSTPAID_TYPES = (
    EntryType.USAGE,
    EntryType.MESSAGE,
    EntryType.REFUND,
    EntryType.INVOICE,
    EntryType.PAYMENT,
    EntryType.PAYMENT_VOID,
)


def postpaid_log_query(
    actor: Actor,
    org: Organization,
    *,
    types=None,
    since: datetime | None = None,
    until: datetime | None = None,
    q: str | None = None,
) -> Select:
    """The organization's charges, invoices and payments the actor may read, the latest to
    happen first; without dates, the last 30 days. Refused (409) for a prepaid organization,
    whose log is the credits log."""
    if org.pricing_model != PricingModel.POSTPAID:
        raise NotPostpaid()
    if since is None and until is None:
        since = movements.last_days()
    asked = movements.clean_types(types)  # an unknown type is refused (422)
    wanted = [t for t in POSTPAID_TYPES if not asked or t in asked]
    query = movements.movements_query(actor, org, types=wanted, since=since, until=until, q=q)
    return query if wanted else query.where(false())


def postpaid_log_rows(actor: Actor, org: Organization, **filters) -> MovementRows:
    """The filtered log as rows for its CSV (the postpaid columns) and print report."""
    return MovementRows(
        postpaid_log_query(actor, org, **filters),
        timezone=org.timezone or "UTC",
        columns=POSTPAID_CSV_COLUMNS,
    )
