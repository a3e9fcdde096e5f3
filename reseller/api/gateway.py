"""API: the SMS gateway's callbacks — delivery reports and replies from handsets — signed
with HMAC-SHA256 of the raw body under ``DELIVERY_REPORT_SECRET`` (hex, in ``X-Signature``),
no API key. (The SMPP gateway receives the same over its receiver bind.)"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

from flask import Response, current_app, request
from flask_babel import lazy_gettext as _l

from reseller.api.blueprint import bp
from reseller.api.bodies import MAX_BODY_BYTES, BodyTooLarge, MalformedJson
from reseller.api.core import OPERATIONS, Operation, error_response, json_response
from reseller.api.schemas_messages import (
    DeliveryReports,
    DeliveryReportsApplied,
    Replies,
    RepliesApplied,
)
from reseller.api.spec import validate_body
from tenants.core.errors import DomainError
from tenants.jobs.outbox import commit, rollback
from tenants.messaging.replies import receive_reply
from tenants.messaging.reports import apply_reports
from tenants.notify.sms import DeliveryReport

TAG = "Messages"
SIGNATURE_HEADER = "X-Signature"
SIGNED = (
    "signed with HMAC-SHA256 of the raw body under `DELIVERY_REPORT_SECRET`, hex, in "
    "`X-Signature`; no API key. 401 `invalid_signature` when the signature is missing or wrong."
)


class BadSignature(DomainError):
    code = "invalid_signature"
    status = 401
    default_message = _l("The delivery report's signature is not valid.")


def signature_of(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _verify(body: bytes) -> None:
    secret = current_app.config.get("DELIVERY_REPORT_SECRET")
    given = request.headers.get(SIGNATURE_HEADER, "").strip().removeprefix("sha256=")
    if not secret or not given or not hmac.compare_digest(given, signature_of(secret, body)):
        raise BadSignature()


def _items(raw: bytes, key: str) -> Any:
    """The JSON body as ``{key: [...]}`` (one item alone is taken as a list of one)."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise MalformedJson() from error
    if isinstance(data, dict) and key not in data:
        data = {key: [data]}
    return data


def _signed_callback(apply: Callable[[bytes], dict[str, int]]) -> Response:
    """Verify, apply and commit in one unit; the one JSON error format otherwise."""
    try:
        raw = request.get_data(cache=True)
        if len(raw) > MAX_BODY_BYTES:
            raise BodyTooLarge()
        _verify(raw)
        body = apply(raw)
        commit()
    except DomainError as error:
        rollback()
        return error_response(error.status, error.code, error.message, error.fields)
    return json_response(json.dumps(body), 200)


def _apply_reports(raw: bytes) -> dict[str, int]:
    parsed = validate_body(DeliveryReports, _items(raw, "reports"))
    reports = [DeliveryReport(r.reference, r.status, r.error) for r in parsed.reports]
    applied = apply_reports(reports)
    return {"applied": applied, "ignored": len(reports) - applied}


def _apply_replies(raw: bytes) -> dict[str, int]:
    parsed = validate_body(Replies, _items(raw, "replies"))
    opted_out = sum(1 for r in parsed.replies if receive_reply(r.source, r.to or "", r.body or ""))
    return {"opted_out": opted_out, "ignored": len(parsed.replies) - opted_out}


def delivery_reports() -> Response:
    return _signed_callback(_apply_reports)


def replies() -> Response:
    return _signed_callback(_apply_replies)


bp.add_url_rule(
    "/gateway/delivery-reports",
    endpoint="delivery_reports",
    view_func=delivery_reports,
    methods=["POST"],
)
bp.add_url_rule("/gateway/replies", endpoint="gateway_replies", view_func=replies, methods=["POST"])
OPERATIONS.append(
    Operation(
        "/gateway/delivery-reports",
        "POST",
        "delivery_reports",
        "Receive delivery reports",
        TAG,
        description='The SMS gateway\'s callback: `{"reports": [{"reference", "status": '
        '"delivered" | "failed", "error"?}]}` (or one report alone), '
        + SIGNED
        + " A duplicate or late report, or an unknown reference, changes nothing (`ignored`).",
        body=DeliveryReports,
        response=DeliveryReportsApplied,
        errors=(400, 401, 413, 422, 429),
        auth=False,
    )
)
OPERATIONS.append(
    Operation(
        "/gateway/replies",
        "POST",
        "gateway_replies",
        "Receive replies",
        TAG,
        description='The SMS gateway\'s callback for messages handsets sent us: `{"replies": '
        '[{"from", "to"?, "text"}]}` (or one reply alone), '
        + SIGNED
        + " A reply whose first word is STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT or BAJA "
        "puts `from` on the opt-out list of the organization that last sent to it (`opted_out`); "
        "anything else changes nothing (`ignored`).",
        body=Replies,
        response=RepliesApplied,
        errors=(400, 401, 413, 422, 429),
        auth=False,
    )
)
