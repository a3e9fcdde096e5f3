"""Payment providers behind one interface: ``offline`` and ``sandbox`` are built in.

A real card provider plugs in by implementing ``PaymentProvider`` and registering itself
in ``PROVIDERS``; purchases never talk to a provider any other way.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from flask_babel import lazy_gettext as _l

from tenants.access.actors import Actor
from tenants.core.checks import collect_field_errors
from tenants.core.errors import ValidationFailed
from tenants.core.types import utcnow

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
        checks = {"card_number": lambda: _card_digits(details)}
        if "expiry" in details:  # the card page asks for it; the API's test card has none
            checks["expiry"] = lambda: clean_expiry(details["expiry"])
        digits = collect_field_errors(checks)["card_number"]
        if digits == SANDBOX_DECLINED_CARD:
            return PaymentResult(False, decline_reason=str(_l("Your card was declined.")))
        return PaymentResult(True, reference=f"sandbox_{secrets.token_hex(8)}")

    def tokenize(self, details: dict) -> tuple[str, str]:
        """Save a card for later charges: the provider's token and the last four digits.

        The sandbox has no card store, so its token itself remembers what a real provider
        would answer about the card: declined or not, the brand and the expiry.
        """
        digits = _card_digits(details)
        prefix = _DECLINED_TOKEN if digits == SANDBOX_DECLINED_CARD else "tok_sandbox_"
        month, year = _expiry(details.get("expiry"))
        expiry = f"{month:02d}{year % 100:02d}" if month else "none"
        token = f"{prefix}{card_brand(digits)}_{expiry}_{secrets.token_hex(12)}"
        return token, digits[-4:]

    def describe(self, token: str) -> CardDetails:
        """What the provider knows of a saved card: its brand and expiry, if it told."""
        match = _SANDBOX_TOKEN.fullmatch(str(token or ""))
        if match is None:  # a token saved before the sandbox remembered details
            return CardDetails()
        brand, expiry = match["brand"], match["expiry"]
        if expiry == "none":
            return CardDetails(brand=brand)
        return CardDetails(brand=brand, exp_month=int(expiry[:2]), exp_year=2000 + int(expiry[2:]))


_DECLINED_TOKEN = "tok_sandbox_declined_"  # noqa: S105  (a sandbox prefix)
_SANDBOX_TOKEN = re.compile(
    r"tok_sandbox_(?:declined_)?(?P<brand>[a-z]+)_(?P<expiry>\d{4}|none)_[0-9a-f]{24}"
)


@dataclass(frozen=True)
class CardDetails:
    """A saved card as its provider describes it (never the number)."""

    brand: str | None = None  # visa, mastercard, amex, discover, card
    exp_month: int | None = None
    exp_year: int | None = None


def card_brand(digits: str) -> str:
    """The card network, from the number's first digits (IIN ranges)."""
    if digits.startswith("4"):
        return "visa"
    if digits[:2] in {"34", "37"}:
        return "amex"
    if 51 <= int(digits[:2]) <= 55 or 2221 <= int(digits[:4]) <= 2720:
        return "mastercard"
    if digits.startswith(("6011", "65")) or 644 <= int(digits[:3]) <= 649:
        return "discover"
    return "card"


def _expiry(value) -> tuple[int | None, int | None]:
    """MM/YY, MM/YYYY or MMYY as (month, four-digit year); anything else as unknown."""
    match = re.fullmatch(r"\s*(\d{1,2})\s*/?\s*(\d{2}|\d{4})\s*", str(value or ""))
    if match is None or not 1 <= int(match[1]) <= 12:
        return None, None
    year = int(match[2])
    return int(match[1]), year if year >= 100 else 2000 + year


CARD_YEARS_AHEAD = 20  # cards are issued for a few years; further ahead is a typing error


def clean_expiry(value, today: date | None = None) -> tuple[int, int]:
    """A card's expiry typed as MM/YY (or MM/YYYY, MMYY): (month, four-digit year), refused
    when it cannot be read, when the card has expired (it is valid until the end of its
    month) or when it lies implausibly far ahead."""
    month, year = _expiry(value)
    if month is None or year is None:
        raise ValidationFailed(fields={"expiry": str(_l("Enter the expiry date as MM/YY."))})
    today = today or utcnow().date()
    if (year, month) < (today.year, today.month):
        raise ValidationFailed(fields={"expiry": str(_l("This card has expired."))})
    if year > today.year + CARD_YEARS_AHEAD:
        raise ValidationFailed(fields={"expiry": str(_l("Check the expiry date."))})
    return month, year


def _card_digits(details: dict) -> str:
    digits = re.sub(r"[\s-]", "", str(details.get("card_number") or ""))
    if not digits.isdigit() or not 12 <= len(digits) <= 19:
        raise ValidationFailed(fields={"card_number": str(_l("Enter a card number."))})
    return digits


PROVIDERS: dict[str, PaymentProvider] = {
    provider.name: provider for provider in (OfflinePayment(), SandboxCardPayment())
}


def card_details(provider_name: str, token: str) -> CardDetails:
    """Brand and expiry of a saved card, from its provider (unknown if it cannot tell)."""
    describe = getattr(PROVIDERS.get(provider_name), "describe", None)
    return describe(token) if describe is not None else CardDetails()


def provider_for(name) -> PaymentProvider:
    provider = PROVIDERS.get(name) if isinstance(name, str) else None
    if provider is None:
        raise ValidationFailed(fields={"payment_method": str(_l("Unknown payment method."))})
    return provider
