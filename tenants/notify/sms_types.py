"""What every SMS gateway hands over and reports (tenants.notify.sms and .smpp)."""

from __future__ import annotations

from dataclasses import dataclass


class SmsGatewayError(Exception):
    """The gateway did not accept the message (the job fails and is retried)."""


@dataclass(frozen=True)
class OutgoingSms:
    """One message of a batch: ``reference`` is ours, unique, taken once by the gateway."""

    to: str
    text: str
    reference: str
    sender: str | None = None


@dataclass(frozen=True)
class DeliveryReport:
    """What the gateway says became of a message: ``delivered`` or ``failed``."""

    reference: str
    status: str
    error: str | None = None
