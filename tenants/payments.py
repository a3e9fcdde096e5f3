"""Payment providers behind one interface: ``offline`` and ``sandbox`` are built in.

A real card provider plugs in by implementing ``PaymentProvider`` and registering itself
in ``PROVIDERS``; purchases never talk to a provider any other way.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Protocol

from flask_babel import lazy_gettext as _l

from tenants.actors import Actor
from tenants.errors import ValidationFailed

SANDBOX_DECLINED_CARD = "4000000000000002"


@dataclass(frozen=True)
class PaymentResult:
    approved: bool
    reference: str | None = None
    decline_reason: str | None = None


class PaymentProvider(Protocol):
    name: str
    needs_card: bool

    def allowed_for(self, actor: Actor) -> bool: ...

    def charge(self, purchase, details: dict) -> PaymentResult: ...


class OfflinePayment:
    """A payment the reseller records (bank transfer, cash): staff and reseller keys only."""

    name = "offline"
    needs_card = False

    def allowed_for(self, actor: Actor) -> bool:
        return actor.is_reseller_staff or (actor.is_api and actor.organization_id is None)

    def charge(self, purchase, details: dict) -> PaymentResult:
        note = str(details.get("note") or "").strip()[:80]
        return PaymentResult(True, reference=f"offline:{note}" if note else "offline")


class SandboxCardPayment:
    """A test card page: approves any card number except 4000 0000 0000 0002."""

    name = "sandbox"
    needs_card = True

    def allowed_for(self, actor: Actor) -> bool:
        return True

    def charge(self, purchase, details: dict) -> PaymentResult:
        token = details.get("card_token")
        if token is not None:
            # A saved card (automatic top-up): the token remembers the declined test card.
            if not str(token).startswith("tok_sandbox_"):
                raise ValidationFailed(fields={"card_token": str(_l("Unknown saved card."))})
            if str(token).startswith(_DECLINED_TOKEN):
                return PaymentResult(False, decline_reason=str(_l("Your card was declined.")))
            return PaymentResult(True, reference=f"sandbox_{secrets.token_hex(8)}")
        digits = _card_digits(details)
        if digits == SANDBOX_DECLINED_CARD:
            return PaymentResult(False, decline_reason=str(_l("Your card was declined.")))
        return PaymentResult(True, reference=f"sandbox_{secrets.token_hex(8)}")

    def tokenize(self, details: dict) -> tuple[str, str]:
        """Save a card for later charges: the provider's token and the last four digits."""
        digits = _card_digits(details)
        prefix = _DECLINED_TOKEN if digits == SANDBOX_DECLINED_CARD else "tok_sandbox_"
        return f"{prefix}{secrets.token_hex(12)}", digits[-4:]


_DECLINED_TOKEN = "tok_sandbox_declined_"  # noqa: S105  (a sandbox prefix)


def _card_digits(details: dict) -> str:
    digits = re.sub(r"[\s-]", "", str(details.get("card_number") or ""))
    if not digits.isdigit() or not 12 <= len(digits) <= 19:
        raise ValidationFailed(fields={"card_number": str(_l("Enter a card number."))})
    return digits


PROVIDERS: dict[str, PaymentProvider] = {
    provider.name: provider for provider in (OfflinePayment(), SandboxCardPayment())
}


def provider_for(name) -> PaymentProvider:
    provider = PROVIDERS.get(name) if isinstance(name, str) else None
    if provider is None:
        raise ValidationFailed(fields={"payment_method": str(_l("Unknown payment method."))})
    return provider
