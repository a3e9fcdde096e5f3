"""Delivery reports: each recipient's final status, and a failed recipient's credits back.

Every report goes through ``apply_reports`` — the HTTP gateway's signed callbacks (the API's
``POST /gateway/delivery-reports``) and the sandbox's reports (a job) alike. A recipient
moves to ``delivered`` or ``failed`` once, by a conditional UPDATE under its row lock: a
duplicate report, a late one, or one for a reference we never gave changes nothing, so a
failed recipient's credits come back exactly once (one ``refund`` entry per message and
batch of reports; for a postpaid organization a negative charge).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import func, select, update

from tenants.access.actors import SYSTEM
from tenants.billing.postpaid import refund_postpaid_usage
from tenants.core.errors import AccountClosed
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.credits.ledger import Posting, post_transaction
from tenants.jobs.registry import job
from tenants.models import (
    Message,
    MessageRecipient,
    MessageStatus,
    Organization,
    RecipientStatus,
)
from tenants.models.ledger import AccountKind, AccountRef, EntryType
from tenants.notify.sms import DeliveryReport

FINAL = (RecipientStatus.DELIVERED, RecipientStatus.FAILED)
REPORTED = {"delivered": RecipientStatus.DELIVERED, "failed": RecipientStatus.FAILED}
MAX_REPORTS = 1000


def apply_reports(reports: Iterable[DeliveryReport]) -> int:
    """Apply delivery reports; how many changed a recipient (the rest were duplicates, late,
    unknown or of an unknown status)."""
    wanted: dict[str, DeliveryReport] = {}
    for report in reports:
        if report.status in REPORTED and report.reference not in wanted:
            wanted[report.reference] = report
    if not wanted:
        return 0
    rows = db.session.execute(
        select(MessageRecipient.id, MessageRecipient.reference, MessageRecipient.message_id)
        .where(
            MessageRecipient.reference.in_(list(wanted)),
            MessageRecipient.status.not_in(FINAL),
        )
        .order_by(MessageRecipient.id)
        .with_for_update()
    ).all()
    failed: dict[str, int] = defaultdict(int)
    touched: set[str] = set()
    changed = 0
    now = utcnow()
    for recipient_id, reference, message_id in rows:
        report = wanted[reference]
        status = REPORTED[report.status]
        moved = db.session.execute(
            update(MessageRecipient)
            .where(MessageRecipient.id == recipient_id, MessageRecipient.status.not_in(FINAL))
            .values(
                status=status,
                error=(report.error or "")[:200] or None,
                reported_at=now,
                refunded=status == RecipientStatus.FAILED,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        if not moved:
            continue
        changed += 1
        touched.add(message_id)
        if status == RecipientStatus.FAILED:
            failed[message_id] += 1
    for message_id in sorted(touched):
        _settle(message_id, failed.get(message_id, 0))
    return changed


def _settle(message_id: str, failures: int) -> None:
    """Refund a message's newly failed recipients (one transaction) and mark it done once
    every recipient has its final status."""
    message = db.session.scalar(select(Message).where(Message.id == message_id).with_for_update())
    if failures:
        _refund(message, failures * message.segments)
    open_left = db.session.scalar(
        select(func.count())
        .select_from(MessageRecipient)
        .where(MessageRecipient.message_id == message_id, MessageRecipient.status.not_in(FINAL))
    )
    if not open_left:
        message.status = MessageStatus.DONE
    message.updated_at = utcnow()


def _refund(message: Message, credits: int) -> None:
    org = db.session.get(Organization, message.organization_id)
    reference = f"message:{message.id}"
    if message.postpaid:
        refund_postpaid_usage(SYSTEM, org, credits=credits, reference=reference)
    else:
        ref = AccountRef.parse(message.account) or AccountRef(AccountKind.SYSTEM)
        try:
            with db.session.begin_nested():
                _post_refund(org, ref, credits, reference)
        except AccountClosed:
            # The member's account closed since (they were removed, or individual credits
            # were switched off): its credits went back to the system pool, the refund too.
            _post_refund(org, AccountRef(AccountKind.SYSTEM), credits, reference)
    message.refunded = message.refunded + credits


def _post_refund(org: Organization, ref: AccountRef, credits: int, reference: str) -> None:
    post_transaction(
        SYSTEM,
        org,
        [
            Posting(ref, credits, EntryType.REFUND),
            Posting(AccountRef(AccountKind.USAGE), -credits, EntryType.REFUND),
        ],
        reference=reference,
    )


@job("apply_delivery_reports")
def apply_delivery_reports(reports: list[dict]) -> None:
    """The sandbox gateway's reports, applied as a real gateway's callbacks are."""
    apply_reports(
        DeliveryReport(str(r.get("reference", "")), str(r.get("status", "")), r.get("error"))
        for r in reports
    )
