"""API: an organization's credits — balance, purchases, transfers, withdrawals, usage and
movements (JSON pages and a streamed CSV)."""

from __future__ import annotations

from datetime import date

from flask import Response
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

import reseller.api.serializers as serializers
from reseller.api.core import done, endpoint
from reseller.api.schemas_credits import (
    Balance,
    LedgerEntry,
    LedgerEntryList,
    MovementFilters,
    MovementQuery,
    Purchase,
    PurchaseCreate,
    Transfer,
    TransferCreate,
    UsageCreate,
    WithdrawalCreate,
)
from tenants.access import scoping
from tenants.access.actors import Actor
from tenants.billing import summary, usage
from tenants.core.errors import ValidationFailed
from tenants.credits import export_rows, ledger, movements, payments, purchases
from tenants.credits import operations as credits
from tenants.credits.export import movements_csv_response
from tenants.jobs.outbox import commit
from tenants.models import PurchaseStatus
from tenants.people.invitations import external_url
from tenants.web.locale import request_language

TAG = "Credits"
# Kept as the ledger reference when the caller gives no reason (data, like any reference).
WITHDRAWAL_REASON = "API withdrawal"
ORG = "/organizations/<org_id>"
ACCOUNT_REFUSAL = "an unknown member, or a member account while individual user credits are off"


@endpoint(
    f"{ORG}/balance",
    "GET",
    summary="Read the balance",
    tag=TAG,
    response=Balance,
    description="Credits of the system pool and of each member account (individual user "
    "credits), their total, and for postpaid organizations what is unbilled (with the tax "
    "it will carry), the open invoices, the credit on account, the debt and credit limit.",
)
def get_balance(actor: Actor, org_id: str) -> Response:
    org = scoping.get_organization(actor, org_id)
    body = serializers.balance(org, ledger.balance(org), summary.postpaid_position(org))
    return done(body)


@endpoint(
    f"{ORG}/purchases",
    "POST",
    summary="Buy credits",
    tag=TAG,
    body=PurchaseCreate,
    response=Purchase,
    status=201,
    errors=(402, 403, 409),
    refusals={
        "account": ACCOUNT_REFUSAL,
        "payment_method": "offline, with an organization key",
        "card_number": "with a payment method that takes no card",
    },
    description="Unit price from the reseller's price list for the organization's currency "
    "(409 `price_not_set` without one), tax from its tax table for the country; the receipt "
    "is issued in the `Accept-Language`. `offline` (a payment the reseller records) is for "
    "reseller keys only: an organization key gets 422 on `payment_method`; it completes at "
    "once (status `paid`, credits applied, `receipt_id` set). `sandbox` with `card_number` "
    "pays at once: approved → `paid`; the test card 4000 0000 0000 0002 → 402 "
    "`payment_declined`, nothing credited. `sandbox` without `card_number` answers status "
    "`pending` with a `payment_url`: the portal's card page, where a signed-in "
    "administrator pays; credits are applied then, once. With an `Idempotency-Key`, a "
    "repeat returns the first answer and never credits twice. The credits come out of the "
    "reseller's wholesale pool: 402 `reseller_credits_exhausted` when it cannot cover them "
    "(before any card is charged), nothing applied; once the payment starts the pool is held "
    "for it, so a card that was charged always gets its credits.",
)
def create_purchase(actor: Actor, org_id: str, body: PurchaseCreate) -> Response:
    org = scoping.get_organization(actor, org_id)
    provider = payments.provider_for(body.payment_method)
    if body.card_number is not None and not provider.needs_card:
        raise ValidationFailed(fields={"card_number": str(_l("Only for card payments."))})
    purchase = purchases.start_purchase(
        actor,
        org,
        credit_count=body.credits,
        account=body.account,
        payment_method=provider.name,
        language=request_language(),
    )
    if not provider.needs_card:
        purchases.pay(actor, purchase, {})
    elif body.card_number is not None:
        purchases.pay(actor, purchase, {"card_number": body.card_number})
    if purchase.status == PurchaseStatus.DECLINED:
        # The declined attempt stays on record (audit log) with nothing credited; the
        # refusal then frees the Idempotency-Key so the client can retry with another card.
        commit()
        raise purchases.PaymentDeclined(purchase.decline_reason or None)
    payment_url = None
    if purchase.status == PurchaseStatus.PENDING:
        payment_url = external_url("credits.pay", org_id=org.id, purchase_id=purchase.id)
    return done(serializers.purchase(purchase, payment_url), 201)


@endpoint(
    f"{ORG}/transfers",
    "POST",
    summary="Transfer credits",
    tag=TAG,
    body=TransferCreate,
    response=Transfer,
    status=201,
    errors=(402, 403, 409),
    refusals={"from": ACCOUNT_REFUSAL, "to": f"the same account as `from`, or {ACCOUNT_REFUSAL}"},
    description="Between the system pool and member accounts, either way (calling agrees "
    "to the conditions the portal asks to tick). 402 `insufficient_credits` when `from` "
    "holds fewer credits; nothing moves.",
)
def create_transfer(actor: Actor, org_id: str, body: TransferCreate) -> Response:
    org = scoping.get_organization(actor, org_id)
    out, into = credits.transfer_credits(
        actor, org, body.source, body.target, body.credits, agreed=True
    )
    source, target = serializers.ledger_entries([out, into])
    return done({"from": source, "to": target}, 201)


@endpoint(
    f"{ORG}/withdrawals",
    "POST",
    summary="Withdraw credits",
    tag=TAG,
    body=WithdrawalCreate,
    response=LedgerEntry,
    status=201,
    errors=(402, 403, 409),
    reseller_only=True,
    refusals={"account": ACCOUNT_REFUSAL},
    description="Takes credits back out of an account, e.g. before deleting the "
    f'organization (an organization key gets 403); `reason` defaults to "{WITHDRAWAL_REASON}". '
    "402 `insufficient_credits` when the "
    "account holds fewer.",
)
def create_withdrawal(actor: Actor, org_id: str, body: WithdrawalCreate) -> Response:
    org = scoping.get_organization(actor, org_id)
    reason = WITHDRAWAL_REASON if body.reason is None else body.reason
    entry = credits.withdraw_credits(
        actor, org, body.account, body.credits, reason=reason, close_out=body.close_out
    )
    return done(serializers.ledger_entry(entry), 201)


@endpoint(
    f"{ORG}/usage",
    "POST",
    summary="Record usage (sent SMS)",
    tag=TAG,
    body=UsageCreate,
    response=LedgerEntry,
    status=201,
    also={200: "The reference was charged before: the first charge's entry, nothing charged"},
    errors=(402, 409),
    refusals={
        "account": ACCOUNT_REFUSAL + "; missing or the system pool while they are on",
        "occurred_at": "in the future, or more than 35 days ago",
    },
    description="Debits the member's account when individual user credits are on (then "
    "`account` is required), else the system pool. 402 `insufficient_credits` when the "
    "credits (prepaid) or the credit limit (postpaid) are short — the balance is untouched; "
    "409 `organization_suspended`. `occurred_at` (default now) may be up to 35 days late, "
    "never in the future. A `reference` is charged once per organization: the first "
    "charge answers 201 with its entry; the same reference again (here or in a batch, any "
    "time later, even once the organization is suspended) charges nothing and answers 200 "
    "with that first entry (same `id`), whatever credits, account or time it carries. A "
    "refused usage (402, 409, 422) records nothing: retry it with the same reference. "
    "Postpaid usage comes out of the reseller's wholesale pool: 402 "
    "`reseller_credits_exhausted` when it cannot cover it.",
)
def record_usage(actor: Actor, org_id: str, body: UsageCreate) -> Response:
    recorded = usage.record_usage_in_scope(
        actor,
        org_id,
        credits=body.credits,
        reference=body.reference,
        account=body.account,
        occurred_at=body.occurred_at,
    )
    if recorded.duplicate:  # the first charge's entry, read in this transaction
        return done(serializers.ledger_entry(recorded.entry), 200)
    # A new charge's answer is built after the commit, which ends the organization's row
    # lock (B1's hot organization); its entry is plain values, never in the session.
    return done(lambda: serializers.ledger_entry(recorded.entry), 201)


def _movement_filters(query: MovementFilters) -> dict[str, object]:
    filters: dict[str, object] = {
        "since": query.since,
        "until": query.until,
        "account": query.account,
    }
    if query.type is not None:
        filters["types"] = query.type.split(",")
    return filters


MOVEMENTS_TEXT = (
    "Postings of the system pool and member accounts, the latest to happen first (by "
    "`occurred_at`: when the usage happened, which may be reported up to 35 days late; "
    "for every other movement when it was recorded, `created_at`); `since`/`until` bound "
    "`occurred_at`. `actor` says who made a movement: a portal user "
    "(id and email, and the support agent during a login-as session), an API key (its "
    "id) or the platform itself (automatic top-ups, jobs)."
)


@endpoint(
    f"{ORG}/movements",
    "GET",
    summary="List movements",
    tag=TAG,
    query=MovementQuery,
    response=LedgerEntryList,
    refusals={"cursor": "a page link this list did not give"},
    description=MOVEMENTS_TEXT,
)
def list_movements(actor: Actor, org_id: str, query: MovementQuery) -> Response:
    org = scoping.get_organization(actor, org_id)
    entries, next_cursor = movements.list_movements(
        actor, org, limit=query.limit, cursor=query.cursor, **_movement_filters(query)
    )
    return done({"data": serializers.ledger_entries(entries), "next_cursor": next_cursor})


@endpoint(
    f"{ORG}/movements.csv",
    "GET",
    summary="Download movements as CSV",
    tag=TAG,
    query=MovementFilters,
    media_type="text/csv",
    description="The same movements and filters as JSON, every page at once, streamed "
    "(any size). Headers and labels in the `Accept-Language`; dates ISO 8601 in the "
    "organization's timezone (Date: when it happened; Recorded at, the last column: when "
    "it was recorded, only when a minute or more apart); cells a spreadsheet would run as "
    "a formula are prefixed with `'`.",
)
def movements_csv(actor: Actor, org_id: str, query: MovementFilters) -> Response:
    org = scoping.get_organization(actor, org_id)
    rows = export_rows.iter_organization_rows(actor, org, **_movement_filters(query))
    name = _("movements-%(organization)s-%(date)s.csv", organization=org.id, date=date.today())
    return movements_csv_response(rows, name)
