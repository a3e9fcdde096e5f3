"""SMS: the gateway notifications go through.

The gateway is an interface (``SmsGateway.send(to, text)``) chosen by ``SMS_GATEWAY``: ``log``
records each message in the sms_messages table, readable by platform admins; ``http`` POSTs
JSON to ``SMS_GATEWAY_URL`` with ``SMS_GATEWAY_TOKEN``. Notifications call ``send_sms`` from
jobs only, so a slow or failing gateway never holds a request and failures are retried.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Protocol

from flask import current_app

from tenants.core.extensions import db
from tenants.models import Organization, SmsMessage


class SmsGatewayError(Exception):
    """The gateway did not accept the message (the job fails and is retried)."""


class SmsGateway(Protocol):
    name: str

    def send(self, to: str, text: str) -> str | None:
        """Hand over one message; the gateway's reference for it, if it gives one."""


class LogGateway:
    """Records messages instead of sending them: the embedded default and the tests."""

    name = "log"

    def send(self, to: str, text: str) -> str | None:
        return None


class HttpGateway:
    """A provider's HTTP API: ``POST {"to", "text"}`` with a bearer token, answering JSON."""

    name = "http"

    def __init__(self, url: str, token: str | None = None, timeout: float = 10.0):
        if not url.startswith(("https://", "http://")):
            raise ValueError("SMS_GATEWAY_URL must be an http(s) URL")
        self.url, self.token, self.timeout = url, token, timeout

    def send(self, to: str, text: str) -> str | None:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(  # noqa: S310  (scheme checked in __init__)
            self.url,
            data=json.dumps({"to": to, "text": text}).encode(),
            headers=headers,
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                body = response.read()
        except OSError as error:  # URLError, HTTPError, timeouts
            raise SmsGatewayError(f"SMS gateway refused the message: {error}") from error
        try:
            answer = json.loads(body or b"{}")
        except ValueError:
            answer = {}
        reference = answer.get("id") if isinstance(answer, dict) else None
        return str(reference)[:100] if reference is not None else None


def gateway() -> SmsGateway:
    config = current_app.config
    if config.get("SMS_GATEWAY", "log") == "http":
        return HttpGateway(config["SMS_GATEWAY_URL"] or "", config.get("SMS_GATEWAY_TOKEN"))
    return LogGateway()


def send_sms(to: str, text: str, *, organization: Organization | None = None) -> SmsMessage:
    """Send through the configured gateway and record what was sent (in the job's unit)."""
    chosen = gateway()
    reference = chosen.send(to, text)
    message = SmsMessage(
        reseller_id=organization.reseller_id if organization else None,
        organization_id=organization.id if organization else None,
        to=to,
        text=text,
        gateway=chosen.name,
        status="logged" if chosen.name == "log" else "sent",
        gateway_reference=reference,
    )
    db.session.add(message)
    db.session.flush()
    return message
