"""API: Send SMS — send a message, list and read messages (the gateway's callbacks are in
reseller.api.gateway)."""

from __future__ import annotations

from flask import Response
from flask_babel import lazy_gettext as _l

from reseller.api.core import (
    done,
    endpoint,
)
from reseller.api.schemas_messages import (
    MessageCreate,
    MessageDetail,
    MessageList,
    MessageQuery,
    MessageSent,
)
from tenants.access import message_scoping, scoping
from tenants.access.actors import Actor
from tenants.messaging import history
from tenants.messaging import operations as messaging
from tenants.messaging.operations import InvalidRecipients
from tenants.models import Message

TAG = "Messages"
ORG = "/organizations/<org_id>"
SIGNATURE_HEADER = "X-Signature"


# ---------------------------------------------------------------------------
# Answers


def _time(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _counts(message: Message, counts: dict[str, int]) -> dict[str, int]:
    return {
        "queued": counts["queued"] + counts["sending"],
        "sent": counts["sent"],
        "delivered": counts["delivered"],
        "failed": counts["failed"],
        "skipped": message.skipped,
    }


def _sent(message: Message) -> dict:
    return {
        "id": message.id,
        "status": message.status.value,
        "recipients": message.recipients,
        "segments": message.segments,
        "credits": message.credits,
        "skipped": message.skipped,
        "encoding": message.encoding,
    }


def _summary(message: Message, counts: dict[str, int]) -> dict:
    return _sent(message) | {
        "text": message.text,
        "sender": message.sender,
        "account": message.account,
        "refunded": message.refunded,
        "counts": _counts(message, counts),
        "created_at": _time(message.created_at),
    }


# ---------------------------------------------------------------------------
# Endpoints


@endpoint(
    f"{ORG}/messages",
    "POST",
    summary="Send an SMS",
    tag=TAG,
    body=MessageCreate,
    response=MessageSent,
    status=201,
    errors=(402, 403, 409),
    refusals={
        "to": "a number that is not a valid phone number (each listed), or every number opted out",
        "to[]": "not a valid phone number",
        "text": "longer than 10 SMS",
        "sender": "not up to 11 letters and digits nor a number",
        "account": "an unknown member, or a member account while individual user credits "
        "are off; missing or the system pool while they are on",
    },
    description="Charges segments times recipients credits in one ledger entry (type "
    "`message`) from the account (prepaid; default as for usage) or accrues them within the "
    "credit limit (postpaid), then the workers hand the message to the gateway. 402 "
    "`insufficient_credits` when short: nothing is charged. Opted-out numbers are skipped and "
    "not charged. Each recipient moves queued → sent → delivered | failed with the "
    "gateway's delivery reports; a failed recipient's credits come back once (a `refund` "
    "entry).",
)
def send_message(actor: Actor, org_id: str, body: MessageCreate) -> Response:
    org = scoping.get_organization(actor, org_id)
    try:
        sent = messaging.send_message(
            actor, org, to=body.to, text=body.text, sender=body.sender, account=body.account
        )
    except InvalidRecipients as error:
        for index, number in enumerate(body.to):
            if number.strip()[:40] in error.invalid:
                error.fields[f"to[{index}]"] = str(_l("Not a valid phone number."))
        raise
    return done(_sent(sent.message), 201)


@endpoint(
    f"{ORG}/messages",
    "GET",
    summary="List messages",
    tag=TAG,
    query=MessageQuery,
    response=MessageList,
    refusals={"cursor": "a page link this list did not give"},
    description="Newest first, with each message's recipients counted by status; `status` "
    "filters (`queued`, `sending`, `sent`: handed over, `done`: every report in); "
    "`campaign_id` keeps the messages of one campaign's runs (404 for a campaign that is "
    "not the organization's, as for one that does not exist).",
)
def list_messages(actor: Actor, org_id: str, query: MessageQuery) -> Response:
    org = scoping.get_organization(actor, org_id, include_deleted=True)
    page = history.message_page(
        actor,
        org,
        status=query.status,
        campaign_id=query.campaign_id,
        limit=query.limit,
        cursor=query.cursor,
    )
    counts = history.recipient_counts([m.id for m in page.items])
    data = [_summary(m, counts[m.id]) for m in page.items]
    return done({"data": data, "next_cursor": page.next_cursor})


@endpoint(
    f"{ORG}/messages/<message_id>",
    "GET",
    summary="Read a message",
    tag=TAG,
    response=MessageDetail,
    description="The message, its counts and each recipient's status.",
)
def get_message(actor: Actor, org_id: str, message_id: str) -> Response:
    org = scoping.get_organization(actor, org_id, include_deleted=True)
    message = message_scoping.get_message(actor, org, message_id)
    counts = history.recipient_counts([message.id])[message.id]
    deliveries = [
        {
            "to": r.number,
            "status": r.status.value,
            "error": r.error,
            "sent_at": _time(r.sent_at),
            "reported_at": _time(r.reported_at),
        }
        for r in history.recipients_of(message)
    ]
    return done(_summary(message, counts) | {"deliveries": deliveries})
