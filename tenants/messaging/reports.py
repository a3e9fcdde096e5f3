"""Delivery reports: each recipient's final status, and a failed recipient's credits back.

Every report goes through ``apply_reports`` — the HTTP gateway's signed callbacks (the API's
``POST /gateway/delivery-reports``) and the sandbox's reports (a job) alike. A recipient
moves to ``delivered`` or ``failed`` once, by a conditional UPDATE under its row lock: a
duplicate report, a late one, or one for a reference we never gave changes nothing, so a
failed recipient's credits come back exactly once (one ``refund`` entry per message and
batch of reports; for a postpaid organization a negative charge). A batch of reports is a
few statements whatever its size, never one a report.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from sqlalchemy import select, update

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
OPEN = (RecipientStatus.QUEUED, RecipientStatus.SENDING, RecipientStatus.SENT)
REPORTED = {"delivered": RecipientStatus.DELIVERED, "failed": RecipientStatus.FAILED}
MAX_REPORTS = 1000


def apply_reports(reports: Iterable[DeliveryReport]) -> int:
    """Apply delivery reports; how many changed a recipient (the rest were duplicates, late,
    unknown or of an unknown status).

    Set-based: one SELECT … FOR UPDATE locks the recipients still open (in id order, so two
    runs with overlapping reports wait for each other instead of deadlocking), one UPDATE
    per outcome (status and error) moves them, then each message touched is settled."""
    wanted: dict[str, DeliveryReport] = {}
    for report in reports:
        if report.status in REPORTED and report.reference not in wanted:
            wanted[report.reference] = report
    if not wanted:
        return 0
    table = MessageRecipient.__table__
    rows = db.session.execute(
        select(table.c.id, table.c.reference)
        .where(table.c.reference.in_(list(wanted)), table.c.status.not_in(FINAL))
        .order_by(table.c.id)
        .with_for_update()
    ).all()
    outcomes: dict[tuple[RecipientStatus, str | None], list[str]] = defaultdict(list)
    for recipient_id, reference in rows:
        report = wanted[reference]
        outcomes[(REPORTED[report.status], (report.error or "")[:200] or None)].append(recipient_id)
    failed: Counter[str] = Counter()
    touched: set[str] = set()
    changed = 0
    now = utcnow()
    for (status, error), ids in outcomes.items():
        moved = db.session.execute(
            update(table)
            .where(table.c.id.in_(ids), table.c.status.not_in(FINAL))
            .values(
                status=status,
                error=error,
                reported_at=now,
                refunded=status == RecipientStatus.FAILED,
            )
            .returning(table.c.message_id)
        ).scalars()
        for message_id in moved:
            changed += 1
            touched.add(message_id)
            if status == RecipientStatus.FAILED:
                failed[message_id] += 1
    for message_id in sorted(touched):
        _settle(message_id, failed[message_id])
    return changed


def lock_message(message_id: str) -> Message:
    """The message's row FOR UPDATE, in its state now (applying reports and closing a
    message after its last batch both take it)."""
    return db.session.scalar(
        select(Message)
        .where(Message.id == message_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def any_open(message_id: str) -> bool:
    """Whether a recipient of the message has no final status yet: one probe of the
    (message, status) index for the open statuses (a NOT IN of the final ones read every
    final recipient before the first open one)."""
    return (
        db.session.scalar(
            select(MessageRecipient.id)
            .where(MessageRecipient.message_id == message_id, MessageRecipient.status.in_(OPEN))
            .limit(1)
        )
        is not None
    )


def _settle(message_id: str, failures: int) -> None:
    """Refund a message's newly failed recipients (one transaction) and mark it done once
    every recipient has its final status."""
    message = lock_message(message_id)
    if failures:
        _refund(message, failures * message.segments)
    if not any_open(message_id):
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
