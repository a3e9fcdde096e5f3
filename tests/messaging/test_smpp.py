"""The SMPP gateway end to end against a real SMPP server on loopback (tests/messaging/
smpp_server.py): a real RQ worker submits each part over SMPP 3.4, the receiver bind takes
the delivery receipts (a failed message's credits come back once, whatever the duplicates)
and STOP replies (the number goes on the opt-out list of the organization that sent to it).
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from tenants.access.actors import SYSTEM
from tenants.contacts import operations as contacts
from tenants.core.extensions import db
from tenants.credits import operations as credits
from tenants.jobs.outbox import commit
from tenants.messaging import operations as messaging
from tenants.messaging.replies import is_stop, run_receiver
from tenants.models import (
    EntryType,
    Message,
    MessageRecipient,
    MessageStatus,
    OptOut,
    RecipientStatus,
    SmppPart,
)
from tenants.models.ledger import SYSTEM_ACCOUNT
from tenants.notify.smpp import GSM_CODING, UCS2_CODING, UDHI, SmppSettings, encode_parts
from tenants.notify.smpp_receiver import TEMPORARY_ERROR, SmppReceiver
from tenants.notify.sms import OutgoingSms, SmsGatewayError, gateway
from tests.conftest import owner_actor
from tests.jobs.conftest import burst_worker
from tests.messaging.conftest import entries, pool
from tests.messaging.smpp_server import SmppServer

# 152 letters, then € (an escape and "e" in GSM 03.38) exactly where a part would end.
LONG_TEXT = "a" * 152 + "€" + "b" * 10


@pytest.fixture
def smsc(app):
    server = SmppServer(system_id="portal", password="secret")
    app.config.update(
        SMS_GATEWAY="smpp",
        SMPP_HOST="127.0.0.1",
        SMPP_PORT=server.port,
        SMPP_SYSTEM_ID="portal",
        SMPP_PASSWORD="secret",
        SMPP_TIMEOUT_SECONDS=0.3,
    )
    yield server
    server.close()


class Receiver:
    """``flask messaging smpp-receiver``'s loop in a thread, on the test's app."""

    def __init__(self, app) -> None:
        self.stopping = threading.Event()
        db.session.commit()  # the receiver writes on its own connection (SQLite: no lock held)

        def run() -> None:
            with app.app_context():
                run_receiver(self.stopping.is_set)

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()


def parts_remembered() -> int:
    """smpp_parts' rows, read in a transaction ended at once (on SQLite an open one would
    hold the lock the gateway's own connection needs)."""
    count = db.session.scalar(select(func.count()).select_from(SmppPart))
    db.session.rollback()
    return count


def recipients(message_id: str) -> dict[str, MessageRecipient]:
    db.session.expire_all()
    rows = db.session.scalars(
        select(MessageRecipient).where(MessageRecipient.message_id == message_id)
    )
    return {row.number: row for row in rows}


def test_parts_never_split_an_extension_character_or_a_surrogate_pair():
    coding, parts = encode_parts("Hola, tu código: 1234")  # ó is not GSM 03.38: UCS-2
    assert coding == UCS2_CODING and parts == ["Hola, tu código: 1234".encode("utf-16-be")]
    coding, parts = encode_parts("a" * 160)
    assert coding == GSM_CODING and parts == [b"a" * 160]

    coding, parts = encode_parts(LONG_TEXT)
    assert coding == GSM_CODING and len(parts) == 2
    reference = parts[0][3]
    assert [p[:6] for p in parts] == [bytes([5, 0, 3, reference, 2, i]) for i in (1, 2)]
    assert len(parts[0]) == 6 + 152  # the escape moved to the second part
    assert b"".join(p[6:] for p in parts).decode("gsm03.38") == LONG_TEXT

    emoji_text = "x" * 66 + "😀" + "y" * 10  # the pair straddles the 67th unit
    coding, parts = encode_parts(emoji_text)
    assert coding == UCS2_CODING and len(parts) == 2
    assert len(parts[0]) == 6 + 66 * 2
    assert b"".join(p[6:] for p in parts).decode("utf-16-be") == emoji_text


def test_a_message_goes_out_over_smpp_and_its_receipts_settle_it_once(app, redis, shop, smsc):
    sent = messaging.send_message(
        shop.actor, shop.acme, to=["+34600000001", "+34610000000"], text=LONG_TEXT
    )
    commit()
    assert sent.message.segments == 2 and pool(shop.acme) == 100 - 4
    burst_worker(app)

    # Two submit_sm per recipient: GSM default alphabet, concatenated, receipt asked for.
    assert len(smsc.submitted) == 4
    assert smsc.binds == ["bind_transmitter"]
    for pdu in smsc.submitted:
        assert pdu.data_coding == GSM_CODING and pdu.esm_class == UDHI
        assert pdu.registered_delivery == 1
        assert (pdu.source_addr, pdu.source_addr_ton) == (b"ACME", 5)
    by_number: dict[bytes, list[bytes]] = {}
    for pdu in smsc.submitted:
        by_number.setdefault(pdu.destination_addr, []).append(pdu.short_message)
    assert set(by_number) == {b"34600000001", b"34610000000"}
    for bodies in by_number.values():
        assert b"".join(b[6:] for b in bodies).decode("gsm03.38") == LONG_TEXT
    assert all(r.status == RecipientStatus.SENT for r in recipients(sent.message.id).values())

    # The receiver takes the four receipts (two parts each): delivered, and failed.
    receiver = Receiver(app)
    smsc.wait_for(lambda: len(smsc.answers) == 4)
    receiver.stop()
    assert smsc.answers == [0, 0, 0, 0]
    rows = recipients(sent.message.id)
    assert rows["+34600000001"].status == RecipientStatus.DELIVERED
    assert rows["+34610000000"].status == RecipientStatus.FAILED
    assert rows["+34610000000"].error.startswith("smpp: UNDELIV")
    assert db.session.get(Message, sent.message.id).status == MessageStatus.DONE
    assert pool(shop.acme) == 100 - 4 + 2  # the failed recipient's two credits, once

    # The same receipts again (an SMSC that delivers twice): nothing moves.
    failed_ids = db.session.scalars(
        select(SmppPart.smsc_message_id).where(SmppPart.reference == rows["+34610000000"].reference)
    ).all()
    for smsc_id in failed_ids:
        smsc.send_receipt(smsc_id, "UNDELIV")
    smsc.send_receipt("SMSC999999", "DELIVRD")  # not ours: answered, ignored
    receiver = Receiver(app)
    smsc.wait_for(lambda: len(smsc.answers) == 7)
    receiver.stop()
    assert smsc.answers[4:] == [0, 0, 0]
    assert pool(shop.acme) == 100 - 4 + 2
    assert sum(e.credits for e in entries(shop.acme, EntryType.REFUND)) == 2


def test_a_batch_handed_over_again_is_not_submitted_twice(app, smsc):
    messages = [
        OutgoingSms("+34600000001", "first", "ref_again_1", "ACME"),
        OutgoingSms("+34600000002", "second", "ref_again_2", "+34911222333"),
    ]
    first = gateway().send_batch(messages)
    again = gateway().send_batch(messages)  # a worker that crashed before marking them sent
    assert first == again == ["SMSC000001", "SMSC000002"]
    assert len(smsc.submitted) == 2
    # A number as sender: an international address.
    assert (smsc.submitted[1].source_addr, smsc.submitted[1].source_addr_ton) == (
        b"34911222333",
        1,
    )


def test_a_refused_submit_is_submitted_again_by_the_retried_job(app, smsc):
    messages = [
        OutgoingSms("+34600000001", "one", "ref_throttle_1"),
        OutgoingSms("+34600000002", "two", "ref_throttle_2"),
    ]
    smsc.refuse_next = 0x58  # ESME_RTHROTTLED
    with pytest.raises(SmsGatewayError, match="0x58"):
        gateway().send_batch(messages)
    assert smsc.submitted == []
    assert parts_remembered() == 0

    assert gateway().send_batch(messages) == ["SMSC000001", "SMSC000002"]
    assert [p.short_message for p in smsc.submitted] == [b"one", b"two"]


def test_a_wrong_password_fails_the_job_and_remembers_nothing(app, smsc):
    app.config["SMPP_PASSWORD"] = "wrong"
    with pytest.raises(SmsGatewayError, match="could not bind"):
        gateway().send_batch([OutgoingSms("+34600000001", "hi", "ref_denied")])
    assert parts_remembered() == 0
    smsc.close()
    with pytest.raises(SmsGatewayError, match="could not bind"):  # nobody listening
        gateway().send_batch([OutgoingSms("+34600000001", "hi", "ref_refused")])


def test_a_stop_reply_opts_the_number_out_of_the_organization_that_last_sent(
    app, redis, shop, smsc
):
    # Zeta (another reseller) sent to the number first, then Acme.
    credits.add_credits(SYSTEM, shop.zeta, SYSTEM_ACCOUNT, 10)
    before = db.session.scalar(select(func.count()).select_from(OptOut))
    for actor, org in ((owner_actor(shop.zeta), shop.zeta), (shop.actor, shop.acme)):
        messaging.send_message(actor, org, to=["+34600000007"], text="Hola")
        commit()
    burst_worker(app)

    smsc.send_reply("34600000007", "ACME", "Hello there")  # not a keyword: nothing
    smsc.send_reply("34699999999", "ACME", "STOP")  # nobody sent to it: nothing
    smsc.send_reply("34600000007", "ACME", " stop.")
    receiver = Receiver(app)
    smsc.wait_for(lambda: len(smsc.answers) == 2 + 3)  # two receipts, three replies
    receiver.stop()
    assert smsc.answers == [0] * 5
    db.session.expire_all()
    added = db.session.scalars(select(OptOut)).all()
    assert len(added) == before + 1
    assert (added[-1].organization_id, added[-1].mobile) == (shop.acme.id, "+34600000007")
    assert contacts.opted_out(shop.acme.id, ["+34600000007"]) == {"+34600000007"}
    assert contacts.opted_out(shop.zeta.id, ["+34600000007"]) == set()


def test_stop_keywords():
    assert all(is_stop(t) for t in ["STOP", "stop", "Baja", " UNSUBSCRIBE please", "Stop!"])
    assert not any(is_stop(t) for t in ["", "Stopped by", "hola", "no stop"])


def test_a_failed_handler_has_the_smsc_deliver_it_again(app, smsc):
    """The deliver_sm is answered only after the handler: a failure asks for it again."""
    seen = []

    def flaky(event) -> bool:
        seen.append(event)
        return len(seen) > 1

    stopping = threading.Event()
    receiver = SmppReceiver(SmppSettings.from_config(app.config), flaky)
    thread = threading.Thread(target=receiver.run, args=(stopping.is_set,), daemon=True)
    thread.start()
    smsc.send_receipt("SMSC000042", "DELIVRD")
    smsc.send_receipt("SMSC000042", "DELIVRD")
    smsc.wait_for(lambda: len(smsc.answers) == 2)
    stopping.set()
    thread.join(timeout=10)
    assert smsc.answers == [TEMPORARY_ERROR, 0]
    assert [e.smsc_message_id for e in seen] == ["SMSC000042", "SMSC000042"]
