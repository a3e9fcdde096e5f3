"""The sending pipeline on real Redis and RQ workers: batches handed to the sandbox gateway,
statuses from its delivery reports, a failed recipient refunded exactly once whatever the
duplicate reports, and a crashed worker resuming without sending anything twice."""

from __future__ import annotations

from sqlalchemy import select

from tenants.core.extensions import db
from tenants.jobs.outbox import commit, enqueue
from tenants.messaging import operations as messaging
from tenants.models import (
    EntryType,
    Message,
    MessageRecipient,
    MessageStatus,
    QueuedJob,
    RecipientStatus,
)
from tenants.notify.sms import OutgoingSms, SandboxGateway, SmsGatewayError
from tests.jobs.conftest import burst_worker
from tests.messaging.conftest import entries, gateway_sends, pool

NUMBERS = ["+34600000001", "+34600000002", "+34610000000", "+34600000004", "+34620000000"]


def recipients(message_id: str) -> dict[str, MessageRecipient]:
    db.session.expire_all()
    rows = db.session.scalars(
        select(MessageRecipient).where(MessageRecipient.message_id == message_id)
    )
    return {row.number: row for row in rows}


def test_a_worker_sends_in_batches_and_refunds_failures_once(app, redis, shop):
    sent = messaging.send_message(shop.actor, shop.acme, to=NUMBERS, text="a" * 200)  # 2 SMS
    commit()
    message_id = sent.message.id
    assert pool(shop.acme) == 100 - 10
    assert {r.status for r in recipients(message_id).values()} == {RecipientStatus.QUEUED}
    burst_worker(app)
    rows = recipients(message_id)
    failed = {n for n, r in rows.items() if r.status == RecipientStatus.FAILED}
    assert failed == {"+34610000000", "+34620000000"}  # numbers ending in 0000
    assert all(r.status == RecipientStatus.DELIVERED for n, r in rows.items() if n not in failed)
    assert all(r.refunded == (n in failed) for n, r in rows.items())
    message = db.session.get(Message, message_id)
    assert message.status == MessageStatus.DONE and message.refunded == 4
    assert pool(shop.acme) == 100 - 10 + 4
    batches = db.session.scalars(
        select(QueuedJob).where(QueuedJob.name == "send_message_batch")
    ).all()
    assert len(batches) == 3 and all(job.finished_at for job in batches)  # 2 + 2 + 1
    assert gateway_sends() == 5

    # The same reports again, twice, late, through the same path: nothing changes.
    failed_refs = [rows[n].reference for n in failed]
    for _ in range(2):
        enqueue(
            "apply_delivery_reports",
            reports=[{"reference": ref, "status": "failed"} for ref in failed_refs]
            + [{"reference": rows["+34600000001"].reference, "status": "failed"}],
        )
    commit()
    burst_worker(app)
    assert pool(shop.acme) == 100 - 10 + 4
    assert sum(e.credits for e in entries(shop.acme, EntryType.REFUND)) == 4
    assert recipients(message_id)["+34600000001"].status == RecipientStatus.DELIVERED


def test_a_crashed_hand_over_resumes_without_sending_twice(app, redis, shop, monkeypatch):
    """The gateway takes the first batch, then the worker dies before marking it sent (the
    job fails); RQ runs the job again, which hands the same references over again: the
    gateway takes each once, and every recipient ends delivered or failed."""
    real = SandboxGateway.send_batch
    crashes = []

    def crash_once(self, messages):
        answer = real(self, messages)
        if not crashes:
            crashes.append(len(messages))
            raise SmsGatewayError("connection lost after the hand-over")
        return answer

    monkeypatch.setattr(SandboxGateway, "send_batch", crash_once)
    sent = messaging.send_message(shop.actor, shop.acme, to=NUMBERS, text="Hi")
    commit()
    burst_worker(app)
    assert crashes == [2]
    rows = recipients(sent.message.id)
    for row in rows.values():
        assert gateway_sends(row.reference) == 1, row.number
    assert gateway_sends() == len(NUMBERS)
    assert {r.status for r in rows.values()} == {RecipientStatus.DELIVERED, RecipientStatus.FAILED}
    assert db.session.get(Message, sent.message.id).refunded == 2
    assert pool(shop.acme) == 100 - 5 + 2


def test_a_worker_killed_between_the_marks_resends_nothing(app, redis, shop):
    """Recipients left ``sending`` (marked, handed over, never marked sent) are handed over
    again with their references: the gateway does not send them again."""
    sent = messaging.send_message(shop.actor, shop.acme, to=NUMBERS[:2], text="Hi")
    commit()
    rows = recipients(sent.message.id)
    outgoing = [OutgoingSms(r.number, "Hi", r.reference) for r in rows.values()]
    # What the dead worker did: marked both, handed them over, and died.
    for row in rows.values():
        row.status = RecipientStatus.SENDING
    db.session.commit()
    SandboxGateway().send_batch(outgoing)
    assert gateway_sends() == 2
    burst_worker(app)
    rows = recipients(sent.message.id)
    assert gateway_sends() == 2
    assert {r.status for r in rows.values()} == {RecipientStatus.DELIVERED}
