"""The messages API: send (201 with its fields, 402, 422 listing invalid numbers), list
and read (per-recipient statuses), another tenant's organization or message a 404; and the
gateway's delivery reports and replies (STOP), signed with HMAC-SHA256."""

from __future__ import annotations

import json

from sqlalchemy import select

from reseller.api.gateway import signature_of
from tenants.core.extensions import db
from tenants.models import EntryType, MessageRecipient, RecipientStatus, Reseller
from tests.messaging.conftest import SECRET, entries, pool

NUMBERS = ["+34600000001", "+34610000000"]


def test_send_answers_the_message_and_charges_it(api, shop, create_api_key):
    key = create_api_key(organization=shop.acme)
    response = api.post(
        f"/organizations/{shop.acme.id}/messages", key, {"to": NUMBERS, "text": "€" * 81}
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert set(body) == {"id", "status", "recipients", "segments", "credits", "skipped", "encoding"}
    assert (body["recipients"], body["segments"], body["credits"], body["skipped"]) == (2, 2, 4, 0)
    assert body["encoding"] == "gsm7"
    detail = api.get(f"/organizations/{shop.acme.id}/messages/{body['id']}", key).json
    assert detail["counts"] == {"queued": 0, "sent": 0, "delivered": 1, "failed": 1, "skipped": 0}
    assert (detail["credits"], detail["refunded"], detail["status"]) == (4, 2, "done")
    assert {d["to"]: d["status"] for d in detail["deliveries"]} == {
        "+34600000001": "delivered",
        "+34610000000": "failed",
    }
    listed = api.get(f"/organizations/{shop.acme.id}/messages", key).json
    assert [m["id"] for m in listed["data"]] == [body["id"]] and listed["next_cursor"] is None
    assert (
        api.get(f"/organizations/{shop.acme.id}/messages", key, query={"status": "queued"}).json[
            "data"
        ]
        == []
    )
    assert (
        api.get(
            f"/organizations/{shop.acme.id}/messages", key, query={"status": "nope"}
        ).status_code
        == 422
    )


def test_invalid_numbers_are_a_422_listing_them(api, shop, create_api_key):
    key = create_api_key(organization=shop.acme)
    response = api.post(
        f"/organizations/{shop.acme.id}/messages",
        key,
        {"to": ["+34600000001", "123"], "text": "Hi"},
    )
    assert response.status_code == 422
    fields = response.json["error"]["fields"]
    assert "123" in fields["to"] and "to[1]" in fields and "to[0]" not in fields
    assert pool(shop.acme) == 100


def test_short_of_credits_is_402_and_nothing_is_charged(api, shop, create_api_key):
    key = create_api_key(organization=shop.acme)
    many = [f"+3460000{n:04d}" for n in range(1, 12)]
    response = api.post(
        f"/organizations/{shop.acme.id}/messages", key, {"to": many, "text": "a" * 1530}
    )
    assert response.status_code == 402
    assert response.json["error"]["code"] == "insufficient_credits"
    assert pool(shop.acme) == 100 and entries(shop.acme, EntryType.MESSAGE) == []


def test_unknown_fields_are_refused(api, shop, create_api_key):
    key = create_api_key(organization=shop.acme)
    response = api.post(
        f"/organizations/{shop.acme.id}/messages", key, {"to": NUMBERS, "text": "Hi", "x": 1}
    )
    assert response.status_code == 422


def test_another_tenants_organization_and_message_are_404(api, shop, create_api_key):
    acme_key = create_api_key(organization=shop.acme)
    zeta_key = create_api_key(organization=shop.zeta)
    sent = api.post(
        f"/organizations/{shop.acme.id}/messages", acme_key, {"to": NUMBERS, "text": "Hi"}
    )
    message_id = sent.json["id"]
    assert (
        api.post(
            f"/organizations/{shop.acme.id}/messages", zeta_key, {"to": NUMBERS, "text": "Hi"}
        ).status_code
        == 404
    )
    assert api.get(f"/organizations/{shop.acme.id}/messages", zeta_key).status_code == 404
    assert (
        api.get(f"/organizations/{shop.acme.id}/messages/{message_id}", zeta_key).status_code == 404
    )
    assert (
        api.get(f"/organizations/{shop.zeta.id}/messages/{message_id}", zeta_key).status_code == 404
    )
    other_reseller = create_api_key(reseller=db.session.get(Reseller, shop.zeta.reseller_id))
    assert (
        api.get(f"/organizations/{shop.acme.id}/messages/{message_id}", other_reseller).status_code
        == 404
    )
    assert pool(shop.acme) == 99  # two charged, the failed one refunded


def _report(api, body: bytes, signature: str | None):
    headers = {} if signature is None else {"X-Signature": signature}
    return api.post("/gateway/delivery-reports", None, raw=body, headers=headers)


def test_signed_delivery_reports_are_applied_once(app, api, shop, create_api_key):
    app.config["SMS_GATEWAY"] = "log"  # reports come only from the gateway's callback
    key = create_api_key(organization=shop.acme)
    sent = api.post(f"/organizations/{shop.acme.id}/messages", key, {"to": NUMBERS, "text": "Hi"})
    rows = db.session.scalars(
        select(MessageRecipient).where(MessageRecipient.message_id == sent.json["id"])
    ).all()
    assert {r.status for r in rows} == {RecipientStatus.SENT}
    body = json.dumps(
        {
            "reports": [{"reference": r.reference, "status": "failed"} for r in rows]
            + [{"reference": "ref_unknown", "status": "delivered"}]
        }
    ).encode()
    first = _report(api, body, signature_of(SECRET, body))
    assert first.status_code == 200 and first.json == {"applied": 2, "ignored": 1}
    again = _report(api, body, "sha256=" + signature_of(SECRET, body))
    assert again.status_code == 200 and again.json == {"applied": 0, "ignored": 3}
    assert [e.credits for e in entries(shop.acme, EntryType.REFUND)] == [2]
    assert pool(shop.acme) == 100


def test_a_bad_or_missing_signature_is_401_and_changes_nothing(app, api, shop, create_api_key):
    app.config["SMS_GATEWAY"] = "log"
    key = create_api_key(organization=shop.acme)
    sent = api.post(f"/organizations/{shop.acme.id}/messages", key, {"to": NUMBERS, "text": "Hi"})
    reference = db.session.scalars(
        select(MessageRecipient.reference).where(MessageRecipient.message_id == sent.json["id"])
    ).first()
    body = json.dumps({"reference": reference, "status": "failed"}).encode()
    for signature in (None, "", "0" * 64, signature_of("another secret", body)):
        response = _report(api, body, signature)
        assert response.status_code == 401
        assert response.json["error"]["code"] == "invalid_signature"
    tampered = body.replace(b"failed", b"delivered")
    assert _report(api, tampered, signature_of(SECRET, body)).status_code == 401
    assert entries(shop.acme, EntryType.REFUND) == []
    assert _report(api, b"{nope", signature_of(SECRET, b"{nope")).status_code == 400
    bad = json.dumps({"reference": reference, "status": "lost"}).encode()
    assert _report(api, bad, signature_of(SECRET, bad)).status_code == 422
    single = _report(api, body, signature_of(SECRET, body))
    assert single.status_code == 200 and single.json == {"applied": 1, "ignored": 0}


def _reply(api, payload, signature: str | None = "sign"):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    if signature == "sign":
        signature = signature_of(SECRET, body)
    headers = {} if signature is None else {"X-Signature": signature}
    return api.post("/gateway/replies", None, raw=body, headers=headers)


def test_a_signed_stop_reply_opts_the_number_out_of_the_last_sender(app, api, shop, create_api_key):
    app.config["SMS_GATEWAY"] = "log"
    key = create_api_key(organization=shop.acme)
    api.post(f"/organizations/{shop.acme.id}/messages", key, {"to": NUMBERS, "text": "Hi"})
    replies = {
        "replies": [
            {"from": "+34600000001", "to": "ACME", "text": "Stop"},
            {"from": "34610000000", "text": "BAJA por favor"},  # no "+": taken as E.164
            {"from": "+34600000001", "text": "STOP"},  # already opted out
            {"from": "+34699999999", "text": "STOP"},  # nobody sent to it
            {"from": "+34610000000", "text": "Gracias"},  # not a keyword
        ]
    }
    answer = _reply(api, replies)
    assert answer.status_code == 200 and answer.json == {"opted_out": 2, "ignored": 3}
    listed = api.get(f"/organizations/{shop.acme.id}/opt-outs", key).json["data"]
    assert sorted(o["mobile"] for o in listed) == NUMBERS
    assert {o["source"] for o in listed} == {"stop_reply"}

    # A later send to them is refused: every number opted out; nothing is charged.
    before = pool(shop.acme)
    again = api.post(f"/organizations/{shop.acme.id}/messages", key, {"to": NUMBERS, "text": "x"})
    assert again.status_code == 422
    assert again.json["error"]["fields"] == {"to": "Every number opted out of your SMS."}
    assert pool(shop.acme) == before


def test_replies_are_refused_unsigned_or_malformed_and_change_nothing(
    app, api, shop, create_api_key
):
    app.config["SMS_GATEWAY"] = "log"
    key = create_api_key(organization=shop.acme)
    api.post(f"/organizations/{shop.acme.id}/messages", key, {"to": NUMBERS, "text": "Hi"})
    stop = {"from": "+34600000001", "text": "STOP"}
    for signature in (None, "", "0" * 64, signature_of("another secret", b"{}")):
        response = _reply(api, stop, signature)
        assert response.status_code == 401, signature
        assert response.json["error"]["code"] == "invalid_signature"
    assert _reply(api, b"{nope").status_code == 400
    for bad in (
        {"from": "not a number", "text": "STOP"},
        {"from": "+34600000001", "text": "STOP\x00"},
        {"from": "+34600000001", "text": "STOP", "extra": 1},
        {"replies": [stop] * 1001},
    ):
        response = _reply(api, bad)
        assert response.status_code == 422, bad
        assert response.json["error"]["fields"], bad
    assert api.get(f"/organizations/{shop.acme.id}/opt-outs", key).json["data"] == []
