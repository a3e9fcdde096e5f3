"""send_message: credits = segments x recipients charged in one ledger entry; refused whole
when short (402) or for bad input (422, invalid numbers listed); opted-out numbers skipped;
postpaid accrues within its limit; a view-only support session changes nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from tenants.access.actors import SYSTEM, Actor
from tenants.billing.postpaid import organization_debt
from tenants.contacts import operations as contacts
from tenants.core.errors import InsufficientCredits, ValidationFailed, ViewOnlySession
from tenants.core.extensions import db
from tenants.jobs.outbox import commit, rollback
from tenants.messaging import operations as messaging
from tenants.messaging.operations import InvalidRecipients
from tenants.models import (
    Charge,
    EntryType,
    Message,
    MessageRecipient,
    MessageStatus,
    RecipientStatus,
    SupportMode,
)
from tests.messaging.conftest import entries, gateway_sends, pool

NUMBERS = ["+34600000001", "+34600000002", "+34600000003"]


def send(shop, org=None, actor=None, **kwargs):
    kwargs.setdefault("to", NUMBERS)
    kwargs.setdefault("text", "Hello")
    sent = messaging.send_message(actor or shop.actor, org or shop.acme, **kwargs)
    commit()
    return sent


@pytest.mark.parametrize(
    ("text", "segments"),
    [("a" * 160, 1), ("a" * 161, 2), ("€" * 81, 2), ("á" * 71, 2), ("ñ" * 200, 2)],
)
def test_credits_are_segments_times_recipients_in_one_entry(shop, text, segments):
    sent = send(shop, text=text)
    message = db.session.get(Message, sent.message.id)
    assert (message.segments, message.recipients) == (segments, 3)
    assert message.credits == segments * 3
    charged = entries(shop.acme, EntryType.MESSAGE)
    assert [e.credits for e in charged] == [-segments * 3]
    assert charged[0].reference == f"message:{message.id}"


def test_the_sandbox_delivers_and_the_message_is_done(shop):
    sent = send(shop)  # no Redis: the outbox runs the jobs in the process at commit
    db.session.expire_all()
    message = db.session.get(Message, sent.message.id)
    assert message.status == MessageStatus.DONE
    statuses = db.session.scalars(
        select(MessageRecipient.status).where(MessageRecipient.message_id == message.id)
    ).all()
    assert statuses == [RecipientStatus.DELIVERED] * 3
    assert gateway_sends() == 3
    assert pool(shop.acme) == 97


def test_a_failed_recipient_is_refunded_once(shop):
    sent = send(shop, to=["+34600000001", "+34610000000"], text="a" * 200)  # 2 SMS each
    db.session.expire_all()
    message = db.session.get(Message, sent.message.id)
    assert message.refunded == 2
    refunds = entries(shop.acme, EntryType.REFUND)
    assert [e.credits for e in refunds] == [2]
    assert pool(shop.acme) == 100 - 4 + 2


def test_short_of_credits_is_402_and_nothing_is_charged(shop):
    # 10 SMS x 11 numbers = 110 > 100 credits
    many = [f"+3460000{n:04d}" for n in range(1, 12)]
    with pytest.raises(InsufficientCredits):
        messaging.send_message(shop.actor, shop.acme, to=many, text="a" * 1530)
    rollback()
    assert pool(shop.acme) == 100
    assert entries(shop.acme, EntryType.MESSAGE) == []
    assert db.session.scalar(select(func.count()).select_from(Message)) == 0


def test_too_long_a_text_is_refused(shop):
    with pytest.raises(ValidationFailed) as refused:
        messaging.send_message(shop.actor, shop.acme, to=NUMBERS, text="a" * 1600)
    rollback()
    assert "text" in refused.value.fields


def test_invalid_numbers_are_listed_and_nothing_is_sent(shop):
    with pytest.raises(InvalidRecipients) as refused:
        messaging.send_message(
            shop.actor, shop.acme, to=["+34600000001", "12", "not a number"], text="Hi"
        )
    rollback()
    assert refused.value.invalid == ["12", "not a number"]
    assert "12" in refused.value.fields["to"] and "not a number" in refused.value.fields["to"]
    assert pool(shop.acme) == 100


def test_national_numbers_are_read_in_the_organizations_country_and_deduplicated(shop):
    sent = send(shop, to="600 000 001\n+34600000001, 600000002")
    numbers = db.session.scalars(
        select(MessageRecipient.number).where(MessageRecipient.message_id == sent.message.id)
    ).all()
    assert sorted(numbers) == ["+34600000001", "+34600000002"]
    assert sent.message.credits == 2


def test_opted_out_numbers_are_skipped_and_not_charged(shop):
    # The organization's opt-out list (tenants.contacts), national format read in Spain.
    contacts.add_opt_out(SYSTEM, shop.acme, mobile="600 000 002")
    contacts.add_opt_out(SYSTEM, shop.beta, mobile="+34600000001")  # another organization's
    commit()
    sent = send(shop)
    assert (sent.message.recipients, sent.message.skipped, sent.message.credits) == (2, 1, 2)
    assert sent.skipped == ["+34600000002"]
    assert pool(shop.acme) == 98


def test_the_sender_comes_from_settings_unless_given(shop):
    assert send(shop).message.sender == "ACME"
    assert send(shop, sender="Promo 2").message.sender == "Promo 2"
    with pytest.raises(ValidationFailed) as refused:
        messaging.send_message(shop.actor, shop.acme, to=NUMBERS, text="Hi", sender="Much too long")
    rollback()
    assert "sender" in refused.value.fields


def test_a_request_key_sends_once(shop):
    first = send(shop, request_key="click-1")
    again = send(shop, request_key="click-1")
    assert again.duplicate and again.message.id == first.message.id
    assert pool(shop.acme) == 97


def test_postpaid_accrues_per_segment_within_the_credit_limit(shop):
    sent = send(shop, org=shop.beta, actor=shop.beta_actor, text="a" * 161)  # 2 SMS x 3
    charge = db.session.scalar(
        select(Charge).where(Charge.reference == f"message:{sent.message.id}")
    )
    assert charge.credits == 6 and charge.amount == Decimal("0.36")
    db.session.expire_all()
    assert organization_debt(shop.beta) == Decimal("0.4356")  # + 21 % tax
    # €1.00 limit: 6 more SMS (€0.36 + tax) would pass it
    with pytest.raises(InsufficientCredits):
        messaging.send_message(
            shop.beta_actor, shop.beta, to=[*NUMBERS, "+34600000004"], text="a" * 161
        )
    rollback()
    assert entries(shop.beta, EntryType.MESSAGE)[0].credits == -6


def test_a_postpaid_failure_is_a_negative_charge(shop):
    sent = send(shop, org=shop.beta, actor=shop.beta_actor, to=["+34600000001", "+34610000000"])
    charges = db.session.scalars(
        select(Charge)
        .where(Charge.reference == f"message:{sent.message.id}")
        .order_by(Charge.credits)
    ).all()
    assert [c.credits for c in charges] == [-1, 2]
    db.session.expire_all()
    assert organization_debt(shop.beta) == Decimal("0.0726")  # one SMS: 0.06 + 21 %
    assert [e.credits for e in entries(shop.beta, EntryType.REFUND)] == [1]


def test_a_view_only_support_session_cannot_send(shop):
    acting = Actor(
        user_id=shop.owner.user_id,
        reseller_id=shop.acme.reseller_id,
        organization_id=shop.acme.id,
        member_id=shop.owner.id,
        member_role=shop.actor.member_role,
        real_user_id="usr_staff",
        support_mode=SupportMode.VIEW,
    )
    with pytest.raises(ViewOnlySession):
        messaging.send_message(acting, shop.acme, to=NUMBERS, text="Hi")
    rollback()
    assert pool(shop.acme) == 100


@pytest.mark.parametrize("closed_by", ["member removed", "individual credits off"])
def test_a_refund_to_a_closed_member_account_goes_to_the_system_pool(
    app, shop, create_member, closed_by
):
    """A member sends from their own credits; their account closes (they are removed, or
    individual credits are switched off: its credits go back to the pool) before the gateway
    reports a failure. The refund follows the credits to the system pool, once, and the
    report is applied like any other."""
    from tenants.credits import operations as credits
    from tenants.messaging.reports import apply_reports
    from tenants.models.ledger import AccountKind, AccountRef
    from tenants.notify.sms import DeliveryReport
    from tenants.organizations import members as member_ops
    from tests.conftest import member_actor

    app.config["SMS_GATEWAY"] = "log"  # reports come only from the gateway's callback
    shop.acme.individual_user_credits = True
    mel = create_member(shop.acme, role="member", name="Mel Member")
    own = AccountRef(AccountKind.MEMBER, mel.id)
    credits.transfer_credits(SYSTEM, shop.acme, "system", own.label, 10, agreed=True)
    commit()
    sent = send(shop, actor=member_actor(mel), to=["+34610000000"], text="Hola", account=own.label)
    assert sent.message.account == own.label and pool(shop.acme) == 90
    if closed_by == "member removed":
        member_ops.remove_member(SYSTEM, shop.acme, mel)
    else:
        credits.close_member_accounts(SYSTEM, shop.acme, move=True)
        shop.acme.individual_user_credits = False
    commit()
    assert pool(shop.acme) == 99  # the 9 credits left went back

    reference = db.session.scalar(
        select(MessageRecipient.reference).where(MessageRecipient.message_id == sent.message.id)
    )
    assert apply_reports([DeliveryReport(reference, "failed", "gone")]) == 1
    commit()
    assert apply_reports([DeliveryReport(reference, "failed", "gone")]) == 0
    commit()
    db.session.expire_all()
    assert pool(shop.acme) == 100
    message = db.session.get(Message, sent.message.id)
    assert (message.status, message.refunded) == (MessageStatus.DONE, 1)
    assert [e.credits for e in entries(shop.acme, EntryType.REFUND)] == [1]
