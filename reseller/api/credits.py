"""API: an organization's credits — balance, purchases, transfers, withdrawals, usage and
movements (JSON pages and a streamed CSV)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response
from flask_babel import lazy_gettext as _l

from reseller.api import schemas, serializers
from reseller.api.core import done, endpoint
from tenants.access import scoping
from tenants.access.actors import Actor
from tenants.billing import usage
from tenants.billing.postpaid import organization_debt
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


@endpoint(
    f"{ORG}/balance",
    "GET",
    summary="Read the balance",
    tag=TAG,
    response=schemas.BALANCE,
    description="Credits of the system pool and of each member account (individual user "
    "credits), their total, and for postpaid organizations the debt and credit limit.",
)
def get_balance(actor: Actor, org_id: str) -> Response:
    org = scoping.get_organization(actor, org_id)
    body = serializers.balance(org, ledger.balance(org), organization_debt(org))
    return done(body)


@endpoint(
    f"{ORG}/purchases",
    "POST",
    summary="Buy credits",
    tag=TAG,
    body=schemas.PURCHASE_CREATE,
    response=schemas.PURCHASE,
    status=201,
    errors=(402, 403, 409),
    description="Unit price from the reseller's price list for the organization's currency "
    "(409 `price_not_set` without one), tax from its tax table for the country; the receipt "
    "is issued in the `Accept-Language`. `offline` (a payment the reseller records) is for "
    "reseller keys only: an organization key gets 422 on `payment_method`; it completes at "
    "once (status `paid`, credits applied, `receipt_id` set). `sandbox` with `card_number` "
    "pays at once: approved → `paid`; the test card 4000 0000 0000 0002 → 402 "
    "`payment_declined`, nothing credited. `sandbox` without `card_number` answers status "
    "`pending` with a `payment_url`: the portal's card page, where a signed-in "
    "administrator pays; credits are applied then, once. With an `Idempotency-Key`, a "
    "repeat returns the first answer and never credits twice.",
)
def create_purchase(actor: Actor, org_id: str, body: dict[str, Any]) -> Response:
    org = scoping.get_organization(actor, org_id)
    provider = payments.provider_for(body["payment_method"])
    if "card_number" in body and not provider.needs_card:
        raise ValidationFailed(fields={"card_number": str(_l("Only for card payments."))})
    purchase = purchases.start_purchase(
        actor,
        org,
        credit_count=body["credits"],
        account=body["account"],
        payment_method=provider.name,
        language=request_language(),
    )
    if not provider.needs_card:
        purchases.pay(actor, purchase, {})
    elif "card_number" in body:
        purchases.pay(actor, purchase, {"card_number": body["card_number"]})
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
    body=schemas.TRANSFER_CREATE,
    response=schemas.TRANSFER,
    status=201,
    errors=(402, 403, 409),
    description="Between the system pool and member accounts, either way (calling agrees "
    "to the conditions the portal asks to tick). 402 `insufficient_credits` when `from` "
    "holds fewer credits; nothing moves.",
)
def create_transfer(actor: Actor, org_id: str, body: dict[str, Any]) -> Response:
    org = scoping.get_organization(actor, org_id)
    out, into = credits.transfer_credits(
        actor, org, body["from"], body["to"], body["credits"], agreed=True
    )
    source, target = serializers.ledger_entries([out, into])
    return done({"from": source, "to": target}, 201)


@endpoint(
    f"{ORG}/withdrawals",
    "POST",
    summary="Withdraw credits",
    tag=TAG,
    body=schemas.WITHDRAWAL_CREATE,
    response=schemas.LEDGER_ENTRY,
    status=201,
    errors=(402, 403, 409),
    reseller_only=True,
    description="Takes credits back out of an account, e.g. before deleting the "
    f'organization (an organization key gets 403); `reason` defaults to "{WITHDRAWAL_REASON}". '
    "402 `insufficient_credits` when the "
    "account holds fewer.",
)
def create_withdrawal(actor: Actor, org_id: str, body: dict[str, Any]) -> Response:
    org = scoping.get_organization(actor, org_id)
    entry = credits.withdraw_credits(
        actor,
        org,
        body["account"],
        body["credits"],
        reason=body.get("reason", WITHDRAWAL_REASON),
    )
    return done(serializers.ledger_entry(entry), 201)


@endpoint(
    f"{ORG}/usage",
    "POST",
    summary="Record usage (sent SMS)",
    tag=TAG,
    body=schemas.USAGE_CREATE,
    response=schemas.LEDGER_ENTRY,
    status=201,
    errors=(402, 409),
    description="Debits the member's account when individual user credits are on (then "
    "`account` is required), else the system pool. 402 `insufficient_credits` when the "
    "credits (prepaid) or the credit limit (postpaid) are short — the balance is untouched; "
    "409 `organization_suspended`. `occurred_at` (default now) may be up to 35 days late, "
    "never in the future.",
)
def record_usage(actor: Actor, org_id: str, body: dict[str, Any]) -> Response:
    org = scoping.get_organization(actor, org_id)
    entry = usage.record_usage(
        actor,
        org,
        credits_used=body["credits"],
        reference=body["reference"],
        account=body.get("account"),
        occurred_at=body.get("occurred_at"),
    )
    return done(serializers.ledger_entry(entry), 201)


def _movement_filters(query: dict[str, Any]) -> dict[str, Any]:
    filters: dict[str, Any] = {
        "since": query.get("since"),
        "until": query.get("until"),
        "account": query.get("account"),
    }
    if "type" in query:
        filters["types"] = query["type"].split(",")
    return filters


MOVEMENTS_TEXT = (
    "Postings of the system pool and member accounts, newest first (by `created_at`); "
    "`since`/`until` bound `created_at`. `actor` says who made a movement: a portal user "
    "(id and email, and the support agent during a login-as session), an API key (its "
    "id) or the platform itself (automatic top-ups, jobs)."
)


@endpoint(
    f"{ORG}/movements",
    "GET",
    summary="List movements",
    tag=TAG,
    query=schemas.MOVEMENT_QUERY,
    response=schemas.MOVEMENT_PAGE,
    description=MOVEMENTS_TEXT,
)
def list_movements(actor: Actor, org_id: str, query: dict[str, Any]) -> Response:
    org = scoping.get_organization(actor, org_id)
    entries, next_cursor = movements.list_movements(
        actor,
        org,
        limit=query.get("limit", 50),
        cursor=query.get("cursor"),
        **_movement_filters(query),
    )
    return done({"data": serializers.ledger_entries(entries), "next_cursor": next_cursor})


@endpoint(
    f"{ORG}/movements.csv",
    "GET",
    summary="Download movements as CSV",
    tag=TAG,
    query=schemas.MOVEMENT_CSV_QUERY,
    media_type="text/csv",
    description="The same movements and filters as JSON, every page at once, streamed "
    "(any size). Headers and labels in the `Accept-Language`; dates ISO 8601 in the "
    "organization's timezone; cells a spreadsheet would run as a formula are prefixed "
    "with `'`.",
)
def movements_csv(actor: Actor, org_id: str, query: dict[str, Any]) -> Response:
    org = scoping.get_organization(actor, org_id)
    rows = export_rows.iter_organization_rows(actor, org, **_movement_filters(query))
    return movements_csv_response(rows, f"movements-{org.id}-{date.today().isoformat()}.csv")
