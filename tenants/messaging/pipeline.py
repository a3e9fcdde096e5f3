"""Sending a message: the workers hand its recipients to the gateway in batches.

One job hands over one batch (MESSAGE_BATCH_SIZE recipients, at most MESSAGE_GATEWAY_RATE a
second: each batch names the earliest moment the next may be handed over) and asks for the
next, so a long message never holds a worker and every batch is a job the outbox owns until
it is done. Each recipient is marked ``sending`` — committed —
before the hand-over, and ``sent`` after it: a worker that crashed in between leaves
``sending`` recipients, which the job's next run hands over again with the same unique
reference; the gateway takes a reference once, so nothing is sent twice. The marks are
set-based: one UPDATE for the batch each, never one a recipient.
"""

from __future__ import annotations

import time

from flask import current_app
from sqlalchemy import select, update

from tenants.core.bulk import update_rows
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.jobs.outbox import enqueue
from tenants.jobs.registry import job
from tenants.messaging.reports import any_open, lock_message
from tenants.models import Message, MessageRecipient, MessageStatus, RecipientStatus
from tenants.notify.sms import OutgoingSms, gateway

# Handed over first: recipients a crashed run left ``sending``, then ``queued`` ones.
PENDING = (RecipientStatus.SENDING, RecipientStatus.QUEUED)


@job("send_message_batch")
def send_message_batch(message_id: str, not_before: float | None = None) -> None:
    """Hand the next batch of the message's recipients to the gateway, not before
    ``not_before`` (a Unix time: the previous batch's hand-over plus its size over the
    gateway's rate)."""
    config = current_app.config
    size = max(1, int(config.get("MESSAGE_BATCH_SIZE", 100)))
    rate = float(config.get("MESSAGE_GATEWAY_RATE", 50) or 0)
    message = db.session.get(Message, message_id)
    if message is None:
        return
    text, sender = message.text, message.sender
    batch = _claim_batch(message_id, size)
    if not batch:
        _close(message_id)
        return
    # Committed before the hand-over: the marks outlive a crash in it (and, on SQLite, the
    # sandbox gateway writes on its own connection while this session holds no lock).
    db.session.commit()
    outgoing = [OutgoingSms(row.number, text, row.reference, sender) for row in batch]
    chosen = gateway()
    _wait_until(not_before, size / rate if rate > 0 else 0)
    started = time.time()
    # A gateway that refuses (SmsGatewayError) fails the job, retried later: the same
    # references are handed over again.
    gateway_ids = chosen.send_batch(outgoing)
    now = utcnow()
    _mark_sent(batch, gateway_ids, now)
    reports = chosen.take_reports()
    if reports:
        enqueue(
            "apply_delivery_reports",
            reports=[
                {"reference": r.reference, "status": r.status, "error": r.error} for r in reports
            ],
        )
    message = db.session.get(Message, message_id)
    if message.status == MessageStatus.QUEUED:
        message.status = MessageStatus.SENDING
    message.updated_at = now
    if len(batch) == size:
        following = started + len(batch) / rate if rate > 0 else None
        enqueue("send_message_batch", message_id=message_id, not_before=following)
    else:
        _close(message_id)


def _claim_batch(message_id: str, size: int) -> list:
    """Up to ``size`` recipients to hand over, marked ``sending``: first those a crashed run
    left ``sending`` (normally none), then ``queued`` ones, chosen and marked by one
    ``UPDATE … WHERE id IN (SELECT … LIMIT) RETURNING``. Each status is one range of the
    (message, status) index, read in its order: no sort of every recipient left (an ORDER
    BY id sorted up to 100,000 rows for each batch; bench/README.md, B5 campaign)."""
    table = MessageRecipient.__table__
    columns = (table.c.id, table.c.number, table.c.reference)
    batch = list(
        db.session.execute(
            select(*columns)
            .where(table.c.message_id == message_id, table.c.status == RecipientStatus.SENDING)
            .limit(size)
        ).all()
    )
    if len(batch) < size:
        queued = (table.c.message_id == message_id, table.c.status == RecipientStatus.QUEUED)
        batch += db.session.execute(
            update(table)
            .where(table.c.id.in_(select(table.c.id).where(*queued).limit(size - len(batch))))
            .where(table.c.status == RecipientStatus.QUEUED)
            .values(status=RecipientStatus.SENDING)
            .returning(*columns)
        ).all()
    return batch


def _mark_sent(batch: list, gateway_ids: list[str | None], now) -> None:
    """Every recipient of the batch still ``sending`` is ``sent``, with the gateway's id for
    it: one statement for the batch (tenants.core.bulk.update_rows)."""
    table = MessageRecipient.__table__
    update_rows(
        table,
        "id",
        [
            {"id": row.id, "gateway_id": gateway_id}
            for row, gateway_id in zip(batch, gateway_ids, strict=True)
        ],
        where=[table.c.status == RecipientStatus.SENDING],
        values={"status": RecipientStatus.SENT, "sent_at": now},
    )


def _wait_until(moment: float | None, longest: float) -> None:
    """Keep to the gateway's rate: wait until ``moment`` (at most ``longest`` seconds, should
    the clock have jumped). The wait falls between the batch's committed marks and its
    hand-over, so the previous batch's writes and this one's claim overlap it."""
    if moment is None:
        return
    left = min(moment - time.time(), longest)
    if left > 0:
        time.sleep(left)


def _close(message_id: str) -> None:
    """Every recipient handed over: the message is ``sent`` (``done`` once all reported).
    Under the message's row lock, which applying reports takes too: a close racing the last
    reports (the batch before was the last full one) never overwrites their ``done``."""
    message = lock_message(message_id)
    if message.status == MessageStatus.DONE:
        return
    message.status = MessageStatus.SENT if any_open(message_id) else MessageStatus.DONE
    message.updated_at = utcnow()
