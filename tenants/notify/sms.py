"""SMS through the gateway: the notifications (low-balance alerts) jobs send.

The gateway is an interface (``SmsGateway.send(to, text)``) chosen by ``SMS_GATEWAY``: ``log``
records each message in the sms_messages table, readable by platform admins; ``http`` POSTs
JSON to ``SMS_GATEWAY_URL`` with ``SMS_GATEWAY_TOKEN``; ``sandbox`` is a gateway in the process
that accepts any number and reports delivery (numbers ending in 0000 fail); ``smpp`` submits to
an SMSC over SMPP 3.4 (tenants.notify.smpp). Notifications call
``send_sms`` from jobs only, so a slow or failing gateway never holds a request and failures
are retried.

Send SMS (tenants.messaging) hands messages over with ``send_batch``: each carries our unique
``reference``, which the gateway takes once (a worker that crashed mid-batch hands the same
references over again) and names in its delivery reports.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from typing import Protocol

from flask import current_app
from sqlalchemy import insert, select

from tenants.core.bulk import copy_rows
from tenants.core.extensions import db
from tenants.core.types import new_ids, utcnow
from tenants.models import Organization, SmsMessage
from tenants.notify.smpp import SmppGateway, SmppSettings
from tenants.notify.sms_types import DeliveryReport, OutgoingSms, SmsGatewayError

__all__ = ["DeliveryReport", "OutgoingSms", "SmsGatewayError", "gateway", "send_sms"]


class SmsGateway(Protocol):
    name: str

    def send(self, to: str, text: str) -> str | None:
        """Hand over one message; the gateway's reference for it, if it gives one."""

    def send_batch(self, messages: list[OutgoingSms]) -> list[str | None]:
        """Hand over messages (each reference taken once); the gateway's ids, in order."""

    def take_reports(self) -> list[DeliveryReport]:
        """Delivery reports the gateway gave in the process (the sandbox's); others call back."""


class _OneByOne:
    """``send_batch`` as one ``send`` per message, for gateways without a batch call (each
    subclass defines ``send``)."""

    send: Callable[[str, str], str | None]

    def send_batch(self, messages: list[OutgoingSms]) -> list[str | None]:
        return [self.send(m.to, m.text) for m in messages]

    def take_reports(self) -> list[DeliveryReport]:
        return []


class LogGateway(_OneByOne):
    """Records messages instead of sending them: the embedded default and the tests."""

    name = "log"

    def send(self, to: str, text: str) -> str | None:
        return None


class SandboxGateway(_OneByOne):
    """A gateway in the process: accepts any number, delivers it, except numbers ending in
    ``0000``, which fail delivery. What it accepted is kept in sms_messages (committed on its
    own connection, as a remote gateway's memory would be): a reference handed over again is
    not sent again. Its delivery reports are taken by the caller (``take_reports``) and go
    through the same path as a real gateway's callbacks."""

    name = "sandbox"
    FAILING_SUFFIX = "0000"

    def __init__(self) -> None:
        self.reports: list[DeliveryReport] = []

    def send(self, to: str, text: str) -> str | None:
        return None

    def send_batch(self, messages: list[OutgoingSms]) -> list[str | None]:
        table = SmsMessage.__table__
        references = [m.reference for m in messages]
        with db.engine.begin() as connection:
            taken = set(
                connection.scalars(
                    select(table.c.gateway_reference).where(
                        table.c.gateway_reference.in_(references)
                    )
                )
            )
            fresh = [m for m in messages if m.reference not in taken]
            if fresh:
                now = utcnow()
                rows = [
                    {
                        "id": id_,
                        "to": m.to,
                        "text": m.text,
                        "gateway": self.name,
                        "status": "sent",
                        "gateway_reference": m.reference,
                        "created_at": now,
                    }
                    for id_, m in zip(new_ids("sms", len(fresh)), fresh, strict=True)
                ]
                if connection.dialect.name == "postgresql":
                    copy_rows(table.name, table, rows, connection=connection)
                else:
                    connection.execute(insert(table), rows)
        for m in messages:
            failed = m.to.endswith(self.FAILING_SUFFIX)
            self.reports.append(
                DeliveryReport(
                    m.reference,
                    "failed" if failed else "delivered",
                    "sandbox: undeliverable number" if failed else None,
                )
            )
        return [f"sbx-{m.reference}" for m in messages]

    def take_reports(self) -> list[DeliveryReport]:
        reports, self.reports = self.reports, []
        return reports


class HttpGateway(_OneByOne):
    """A provider's HTTP API: ``POST {"to", "text"}`` with a bearer token, answering JSON
    (with ``reference`` and ``sender`` for Send SMS; the provider takes a reference once and
    reports delivery, signed, to ``POST /api/v1/gateway/delivery-reports``)."""

    name = "http"

    def __init__(self, url: str, token: str | None = None, timeout: float = 10.0):
        if not url.startswith(("https://", "http://")):
            raise ValueError("SMS_GATEWAY_URL must be an http(s) URL")
        self.url, self.token, self.timeout = url, token, timeout

    def send_batch(self, messages: list[OutgoingSms]) -> list[str | None]:
        return [
            self._post({"to": m.to, "text": m.text, "reference": m.reference, "sender": m.sender})
            for m in messages
        ]

    def send(self, to: str, text: str) -> str | None:
        return self._post({"to": to, "text": text})

    def _post(self, payload: dict) -> str | None:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(  # noqa: S310  (scheme checked in __init__)
            self.url,
            data=json.dumps(payload).encode(),
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
    chosen = config.get("SMS_GATEWAY", "log")
    if chosen == "http":
        return HttpGateway(config["SMS_GATEWAY_URL"] or "", config.get("SMS_GATEWAY_TOKEN"))
    if chosen == "sandbox":
        return SandboxGateway()
    if chosen == "smpp":
        return SmppGateway(SmppSettings.from_config(config))
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
        status="logged" if chosen.name in ("log", "sandbox") else "sent",
        gateway_reference=reference,
    )
    db.session.add(message)
    db.session.flush()
    return message
