"""The API's schemas: field specs that validate request data AND render as OpenAPI 3.1.

One definition serves both, so the document can never drift from what the endpoints
accept. Validation is strict, Stripe-style: unknown fields, wrong types, non-integer or
out-of-range numbers are refused with a message per field, keyed by the field's path
(``billing.name``, ``prices[0].currency``), never silently ignored or coerced.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal as D
from decimal import InvalidOperation
from typing import Any

from flask_babel import lazy_gettext as _l

from tenants.core.errors import ValidationFailed
from tenants.credits.operations import MAX_CREDITS
from tenants.credits.payments import PROVIDERS
from tenants.models import EntryType, InvoiceKind, InvoiceStatus, PurchaseStatus

MISSING = object()
# Control characters and lone surrogates: PostgreSQL cannot store NUL, UTF-8 cannot encode
# a lone surrogate; refusing them here keeps bad text away from every service.
UNSAFE_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
CREDITS_MAX = 10**12  # far above any real balance, well inside BIGINT
ISO_MOMENT = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}([.,]\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?"
)


def _join(path: str, name: str | int) -> str:
    if isinstance(name, int):
        return f"{path}[{name}]"
    return f"{path}.{name}" if path else name


@dataclass
class Spec(ABC):
    description: str | None = None
    nullable: bool = False
    example: Any = None

    def validate(self, value: Any, path: str, errors: dict[str, str]) -> Any:
        if value is None:
            if self.nullable:
                return None
            errors[path] = str(_l("Must not be null."))
            return MISSING
        return self.check(value, path, errors)

    @abstractmethod
    def check(self, value: Any, path: str, errors: dict[str, str]) -> Any:
        """Validate a present, non-null value: the cleaned value, or MISSING with errors."""

    def from_query(self, text: str, path: str, errors: dict[str, str]) -> Any:
        """Query parameters arrive as text; each type parses its own."""
        return self.check(text, path, errors)

    @abstractmethod
    def schema(self) -> dict[str, Any]:
        """The JSON Schema of this spec (without the shared keywords)."""

    def ref(self) -> dict[str, Any]:
        """How another schema points at this one (named objects by $ref, others inline)."""
        return self.json_schema()

    def json_schema(self) -> dict[str, Any]:
        result = self.schema()
        if self.nullable and "type" in result:
            result["type"] = [result["type"], "null"]
        if self.description:
            result["description"] = self.description
        if self.example is not None:
            result["examples"] = [self.example]
        return result


@dataclass
class String(Spec):
    min_length: int | None = 1
    max_length: int = 200
    pattern: str | None = None
    enum: tuple[str, ...] | None = None
    format: str | None = None

    def check(self, value, path, errors):
        if not isinstance(value, str):
            errors[path] = str(_l("Must be text."))
            return MISSING
        if self.enum is not None and value not in self.enum:
            errors[path] = str(_l("Must be one of: %(values)s.", values=", ".join(self.enum)))
            return MISSING
        if self.min_length and len(value.strip()) < self.min_length:
            errors[path] = str(_l("This field is required."))
            return MISSING
        if len(value) > self.max_length:
            errors[path] = str(_l("Use at most %(n)d characters.", n=self.max_length))
            return MISSING
        if UNSAFE_TEXT.search(value):
            errors[path] = str(_l("Contains characters that are not allowed."))
            return MISSING
        if self.pattern and not re.fullmatch(self.pattern, value):
            errors[path] = str(_l("Not in the expected format."))
            return MISSING
        return value

    def schema(self):
        result: dict[str, Any] = {"type": "string", "maxLength": self.max_length}
        if self.min_length:
            result["minLength"] = self.min_length
        if self.enum is not None:
            result = {"type": "string", "enum": list(self.enum)}
        if self.pattern:
            # Grouped, so an alternation ("system|member:…") is anchored at both ends as a whole.
            result["pattern"] = f"^(?:{self.pattern})$"
        if self.format:
            result["format"] = self.format
        return result


@dataclass
class Integer(Spec):
    minimum: int = 0
    maximum: int = CREDITS_MAX

    def check(self, value, path, errors):
        # bool is an int in Python and 5.0 is a float: neither is an integer in the API.
        if isinstance(value, bool) or not isinstance(value, int):
            errors[path] = str(_l("Must be a whole number."))
            return MISSING
        if value < self.minimum:
            if self.minimum == 1:
                errors[path] = str(_l("Must be a positive whole number."))
            else:
                errors[path] = str(_l("Must be at least %(n)d.", n=self.minimum))
            return MISSING
        if value > self.maximum:
            errors[path] = str(_l("Must be at most %(n)d.", n=self.maximum))
            return MISSING
        return value

    def from_query(self, text, path, errors):
        if not re.fullmatch(r"-?\d{1,15}", text):
            errors[path] = str(_l("Must be a whole number."))
            return MISSING
        return self.check(int(text), path, errors)

    def schema(self):
        return {"type": "integer", "minimum": self.minimum, "maximum": self.maximum}


@dataclass
class Boolean(Spec):
    def check(self, value, path, errors):
        if not isinstance(value, bool):
            errors[path] = str(_l("Must be true or false."))
            return MISSING
        return value

    def from_query(self, text, path, errors):
        if text not in ("true", "false"):
            errors[path] = str(_l("Must be true or false."))
            return MISSING
        return text == "true"

    def schema(self):
        return {"type": "boolean"}


@dataclass
class Decimal(Spec):
    """Money and percentages travel as decimal strings ("12.50"), never as floats."""

    places: int = 2
    minimum: str = "0"
    maximum: str = "99999999"

    def check(self, value, path, errors):
        message = str(_l('Must be a decimal number in a string, e.g. "12.50".'))
        if not isinstance(value, str) or not re.fullmatch(r"-?\d{1,12}(\.\d{1,12})?", value):
            errors[path] = message
            return MISSING
        try:
            amount = D(value)
        except InvalidOperation:
            errors[path] = message
            return MISSING
        if amount < D(self.minimum) or amount > D(self.maximum):
            errors[path] = str(
                _l("Must be between %(low)s and %(high)s.", low=self.minimum, high=self.maximum)
            )
            return MISSING
        if amount != amount.quantize(D(1).scaleb(-self.places)):
            errors[path] = str(_l("Use at most %(n)d decimals.", n=self.places))
            return MISSING
        return amount

    def schema(self):
        negative = "-?" if D(self.minimum) < 0 else ""
        return {
            "type": "string",
            "pattern": rf"^{negative}\d+(\.\d{{1,{self.places}}})?$",
            "description": f"Decimal string, {self.minimum} to {self.maximum}.",
        }


@dataclass
class DateTime(Spec):
    """A moment in ISO 8601 with its time zone ("2026-11-27T10:00:00Z"), as an aware datetime
    in UTC; a time without a zone is refused rather than guessed."""

    def check(self, value, path, errors):
        if not isinstance(value, str) or not ISO_MOMENT.fullmatch(value):
            errors[path] = str(_l("Not in the expected format."))
            return MISSING
        try:
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is not None:
                return moment.astimezone(UTC)
        except (ValueError, OverflowError):
            errors[path] = str(_l("Not in the expected format."))
            return MISSING
        errors[path] = str(_l("Give a time zone (e.g. Z)."))
        return MISSING

    def schema(self):
        return {
            "type": "string",
            "format": "date-time",
            "maxLength": 40,
            "description": 'ISO 8601 with a time zone, e.g. "2026-11-27T10:00:00Z"',
        }


@dataclass
class Array(Spec):
    items: Spec = field(default_factory=Spec)
    max_items: int = 500

    def check(self, value, path, errors):
        if not isinstance(value, list):
            errors[path] = str(_l("Must be a list."))
            return MISSING
        if len(value) > self.max_items:
            errors[path] = str(_l("Use at most %(n)d items.", n=self.max_items))
            return MISSING
        result = [self.items.validate(item, _join(path, i), errors) for i, item in enumerate(value)]
        return MISSING if any(item is MISSING for item in result) else result

    def schema(self):
        return {"type": "array", "items": self.items.ref(), "maxItems": self.max_items}


@dataclass
class Map(Spec):
    """An object of free keys with text values (documentation of responses only)."""

    def check(self, value, path, errors):
        if not isinstance(value, dict):
            errors[path] = str(_l("Must be a JSON object."))
            return MISSING
        return value

    def schema(self):
        return {"type": "object", "additionalProperties": {"type": "string"}}


@dataclass
class Object(Spec):
    """A JSON object with known properties; any other property is refused."""

    name: str | None = None  # components/schemas name in the OpenAPI document
    properties: dict[str, Spec] = field(default_factory=dict)
    required: tuple[str, ...] = ()

    def check(self, value, path, errors):
        if not isinstance(value, dict):
            errors[path or "body"] = str(_l("Must be a JSON object."))
            return MISSING
        result = {}
        for key in value:
            if key not in self.properties:
                errors[_join(path, key)] = str(_l("Unknown field."))
        for key in self.required:
            if key not in value:
                errors[_join(path, key)] = str(_l("This field is required."))
        for key, spec in self.properties.items():
            if key in value:
                checked = spec.validate(value[key], _join(path, key), errors)
                if checked is not MISSING:
                    result[key] = checked
        return result

    def schema(self):
        result: dict[str, Any] = {
            "type": "object",
            "properties": {key: spec.ref() for key, spec in self.properties.items()},
            "additionalProperties": False,
        }
        if self.required:
            result["required"] = list(self.required)
        return result

    def ref(self) -> dict[str, Any]:
        if self.name:
            reference = {"$ref": f"#/components/schemas/{self.name}"}
            if self.nullable:
                return {"oneOf": [reference, {"type": "null"}]}
            return reference
        return self.json_schema()

    def named(self) -> list[Object]:
        """This object and every named object inside it, for components/schemas."""
        found: list[Object] = [self] if self.name else []
        for spec in self.properties.values():
            inner = spec.items if isinstance(spec, Array) else spec
            if isinstance(inner, Object):
                found.extend(inner.named())
        return found


def validate(spec: Object, data: Any) -> dict[str, Any]:
    """Validated data (only the fields that were sent) or ValidationFailed with every field."""
    errors: dict[str, str] = {}
    result = spec.validate(data, "", errors)
    if errors:
        raise ValidationFailed(fields=errors)
    return result


def validate_query(spec: Object, args) -> dict[str, Any]:
    """Query parameters: known names only, once each, parsed by their type."""
    errors: dict[str, str] = {}
    result = {}
    for key in args:
        if key not in spec.properties:
            errors[key] = str(_l("Unknown parameter."))
            continue
        values = args.getlist(key)
        if len(values) > 1:
            errors[key] = str(_l("Give this parameter once."))
            continue
        checked = spec.properties[key].from_query(values[0], key, errors)
        if checked is not MISSING:
            result[key] = checked
    if errors:
        raise ValidationFailed(fields=errors)
    return result


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"billing": {"name": "x"}}`` → ``{"billing.name": "x"}`` (lists stay whole)."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            flat.update(flatten(value, path))
        else:
            flat[path] = value
    return flat


# ---------------------------------------------------------------------------
# The API's objects

COUNTRY = String(
    max_length=2, pattern="[A-Za-z]{2}", description="ISO 3166-1 alpha-2", example="ES"
)
CURRENCY = String(max_length=3, description="ISO 4217", example="EUR")
TIMEZONE = String(max_length=64, description="IANA timezone", example="Europe/Madrid")
PRICING_MODEL = String(enum=("prepaid", "postpaid"))
ID = String(max_length=40)
TIME = String(format="date-time", max_length=40, description="ISO 8601, UTC (ends in Z)")
MONEY = Decimal(places=2, example="12.50")
EMAIL = String(max_length=254, format="email")
OPTIONAL_TEXT = String(min_length=None, nullable=True)


def _billing(name: str | None, *, output: bool = False) -> Object:
    return Object(
        name=name,
        properties={
            "type": String(enum=("individual", "company")),
            "name": String(
                min_length=None,
                nullable=True,
                description="Defaults to the organization's name.",
            ),
            "address": String(min_length=None, max_length=1000, nullable=True),
            "tax_id": String(min_length=None, max_length=64, nullable=True),
            "email": String(min_length=None, max_length=254, nullable=True, format="email"),
        },
        required=("type", "name", "address", "tax_id", "email") if output else (),
    )


BILLING = _billing("Billing", output=True)

SETTINGS_FIELDS = {
    "sender_name": String(min_length=None, max_length=20, nullable=True),
    "notification_email": String(min_length=None, max_length=254, nullable=True, format="email"),
    "notification_mobile": String(
        min_length=None, max_length=32, nullable=True, description="International, +34…"
    ),
    "low_balance_alert": Boolean(),
    "low_balance_threshold": Integer(minimum=0, description="Credits"),
    "alert_email": String(min_length=None, max_length=254, nullable=True, format="email"),
}

ORGANIZATION = Object(
    name="Organization",
    properties={
        "id": ID,
        "name": String(),
        "status": String(enum=("active", "suspended", "deleted")),
        "country": COUNTRY,
        "currency": CURRENCY,
        "timezone": TIMEZONE,
        "pricing_model": PRICING_MODEL,
        "owner_id": String(max_length=40, nullable=True, description="The owner's member id"),
        "individual_user_credits": Boolean(),
        "credit_limit": MONEY,
        "billing": BILLING,
        "settings": Object(
            name="OrganizationSettings",
            properties=SETTINGS_FIELDS,
            required=tuple(SETTINGS_FIELDS),
        ),
        "auto_top_up": Object(
            name="AutoTopUp",
            properties={
                "enabled": Boolean(),
                "below": Integer(minimum=0),
                "credits": Integer(minimum=0),
            },
            required=("enabled", "below", "credits"),
        ),
        "created_at": TIME,
    },
    required=(
        "id",
        "name",
        "status",
        "country",
        "currency",
        "timezone",
        "pricing_model",
        "owner_id",
        "individual_user_credits",
        "credit_limit",
        "billing",
        "settings",
        "auto_top_up",
        "created_at",
    ),
)

ORGANIZATION_CREATE = Object(
    name="OrganizationCreate",
    properties={
        "name": String(),
        "country": COUNTRY,
        "currency": String(max_length=3, nullable=True, description="Defaults from the country"),
        "timezone": String(max_length=64, nullable=True, description="Defaults from the country"),
        "pricing_model": PRICING_MODEL,
        "owner": Object(
            name="OwnerInvitation",
            properties={"name": String(), "email": EMAIL},
            required=("name", "email"),
            description="Invited by email to set a password.",
        ),
        "billing": _billing("BillingInput", output=False),
    },
    required=("name", "country", "pricing_model", "owner"),
)

ORGANIZATION_UPDATE = Object(
    name="OrganizationUpdate",
    description="Only the fields sent change. Changing pricing_model needs zero balance and debt.",
    properties={
        "name": String(),
        "country": COUNTRY,
        "currency": CURRENCY,
        "timezone": TIMEZONE,
        "pricing_model": PRICING_MODEL,
        "billing": _billing(None, output=False),
        "settings": Object(properties=SETTINGS_FIELDS),
        "credit_limit": Decimal(places=2, description="Postpaid credit limit (reseller keys)"),
        "individual_user_credits": Boolean(),
        "auto_top_up": Object(
            properties={
                "enabled": Boolean(),
                "below": Integer(minimum=0),
                "credits": Integer(minimum=1),
            }
        ),
    },
)

SUSPEND = Object(
    name="SuspendRequest",
    properties={"reason": String(max_length=500, description="Kept in the audit log")},
    required=("reason",),
)
EMPTY = Object(name="EmptyRequest", description="No fields (an empty body is fine).")
OWNERSHIP = Object(
    name="OwnershipTransfer",
    properties={"member_id": ID},
    required=("member_id",),
    description="To a member with portal access; the old owner becomes admin. Nothing else moves.",
)

ROLE = String(enum=("admin", "member"))
MEMBER = Object(
    name="Member",
    properties={
        "id": ID,
        "organization_id": ID,
        "name": String(),
        "email": EMAIL,
        "mobile": String(max_length=32, nullable=True),
        "role": String(enum=("owner", "admin", "member")),
        "portal_access": Boolean(),
        "created_at": TIME,
    },
    required=(
        "id",
        "organization_id",
        "name",
        "email",
        "mobile",
        "role",
        "portal_access",
        "created_at",
    ),
)
MEMBER_CREATE = Object(
    name="MemberCreate",
    properties={
        "name": String(),
        "email": EMAIL,
        "mobile": String(min_length=None, max_length=32, nullable=True),
        "role": ROLE,
        "portal_access": Boolean(),
    },
    required=("name", "email", "role", "portal_access"),
)
MEMBER_UPDATE = Object(
    name="MemberUpdate",
    properties={
        "name": String(),
        "email": EMAIL,
        "mobile": String(min_length=None, max_length=32, nullable=True),
        "role": ROLE,
        "portal_access": Boolean(),
    },
)


def page_of(item: Object, name: str) -> Object:
    return Object(
        name=name,
        properties={
            "data": Array(items=item, max_items=100),
            "next_cursor": String(nullable=True, max_length=200),
        },
        required=("data", "next_cursor"),
    )


ORGANIZATION_PAGE = page_of(ORGANIZATION, "OrganizationList")
MEMBER_PAGE = page_of(MEMBER, "MemberList")

LIST_QUERY = {
    "limit": Integer(minimum=1, maximum=100, description="Default 50"),
    "cursor": String(max_length=200, description="next_cursor of the previous page"),
}
ORGANIZATION_QUERY = Object(
    properties={
        "status": String(enum=("active", "suspended")),
        "q": String(max_length=200, description="Name, owner email or billing name"),
        "pricing_model": PRICING_MODEL,
        "low_balance": Boolean(),
        "has_debt": Boolean(),
        **LIST_QUERY,
    }
)
MEMBER_QUERY = Object(properties=dict(LIST_QUERY))

PRICE = Object(
    name="Price",
    properties={
        "currency": CURRENCY,
        "prepaid_unit_price": Decimal(places=4, maximum="999999.9999", example="0.045"),
        "postpaid_unit_price": Decimal(places=4, maximum="999999.9999", example="0.050"),
    },
    required=("currency", "prepaid_unit_price", "postpaid_unit_price"),
)
PRICE_LIST = Object(
    name="PriceList",
    properties={"prices": Array(items=PRICE, max_items=500)},
    required=("prices",),
)
TAX_RATE = Object(
    name="TaxRate",
    properties={"country": COUNTRY, "percent": Decimal(places=2, maximum="100", example="21")},
    required=("country", "percent"),
)
TAX_RATES = Object(
    name="TaxRates",
    properties={"tax_rates": Array(items=TAX_RATE, max_items=500)},
    required=("tax_rates",),
    description="A country not listed pays 0.",
)

# ---------------------------------------------------------------------------
# Credits, movements and invoices

ACCOUNT = String(
    max_length=48,
    pattern="system|member:[A-Za-z0-9_]{1,40}",
    description='"system" (the system pool) or "member:<member id>" (individual credits)',
    example="system",
)
CREDITS = Integer(minimum=1, maximum=MAX_CREDITS, description="Credits (one credit = one SMS)")
SIGNED_CREDITS = Integer(
    minimum=-CREDITS_MAX, maximum=CREDITS_MAX, description="Incoming positive, outgoing negative"
)
ENTRY_TYPES = tuple(EntryType)
EXACT_PRICE = Decimal(places=4, maximum="999999.9999", description="With all its decimals")
PERCENT = Decimal(places=2, maximum="100", example="21")

BALANCE = Object(
    name="Balance",
    properties={
        "system_credits": Integer(minimum=0, maximum=CREDITS_MAX),
        "users": Array(
            items=Object(
                name="MemberCredits",
                properties={"member_id": ID, "credits": Integer(minimum=0, maximum=CREDITS_MAX)},
                required=("member_id", "credits"),
            ),
            max_items=100_000,
            description="Members' individual credit accounts",
        ),
        "total_credits": Integer(minimum=0, maximum=CREDITS_MAX),
        "debt": Decimal(places=2, description="Unbilled charges plus unpaid invoices"),
        "credit_limit": Decimal(places=2, description="Postpaid credit limit"),
        "currency": CURRENCY,
    },
    required=("system_credits", "users", "total_credits", "debt", "credit_limit", "currency"),
)

PURCHASE_CREATE = Object(
    name="PurchaseCreate",
    properties={
        "credits": CREDITS,
        "account": ACCOUNT,
        "payment_method": String(enum=tuple(PROVIDERS)),
        "card_number": String(
            max_length=32,
            pattern="[0-9 -]{12,32}",
            description="Sandbox only: pay at once with this test card (any number is "
            "approved but 4000 0000 0000 0002, which is declined).",
        ),
    },
    required=("credits", "account", "payment_method"),
)
PURCHASE = Object(
    name="Purchase",
    properties={
        "id": ID,
        "credits": CREDITS,
        "account": ACCOUNT,
        "status": String(enum=tuple(PurchaseStatus)),
        "payment_method": String(max_length=20),
        "amounts": Object(
            name="PurchaseAmounts",
            properties={
                "currency": CURRENCY,
                "unit_price": EXACT_PRICE,
                "subtotal": MONEY,
                "tax_percent": PERCENT,
                "tax": MONEY,
                "total": MONEY,
            },
            required=("currency", "unit_price", "subtotal", "tax_percent", "tax", "total"),
        ),
        "receipt_id": String(
            max_length=40, nullable=True, description="The receipt (an invoice) once paid"
        ),
        "payment_url": String(
            max_length=500,
            nullable=True,
            format="uri",
            description="While pending: the portal's card page where a signed-in "
            "administrator completes the payment",
        ),
        "created_at": TIME,
    },
    required=(
        "id",
        "credits",
        "account",
        "status",
        "payment_method",
        "amounts",
        "receipt_id",
        "payment_url",
        "created_at",
    ),
)

LEDGER_ACTOR = Object(
    name="LedgerActor",
    description="Who made the movement",
    properties={
        "type": String(
            enum=("user", "api_key", "system"),
            description="A person in the portal, an API key, or the platform itself",
        ),
        "id": String(max_length=40, nullable=True, description="The user id or API key id"),
        "email": String(max_length=254, nullable=True, description="The person's email"),
        "support_agent_email": String(
            max_length=254,
            nullable=True,
            description="During a login-as support session: the agent really acting",
        ),
    },
    required=("type", "id", "email", "support_agent_email"),
)
LEDGER_ENTRY = Object(
    name="LedgerEntry",
    properties={
        "id": ID,
        "created_at": TIME,
        "occurred_at": TIME,
        "type": String(enum=ENTRY_TYPES),
        "account": ACCOUNT,
        "credits": SIGNED_CREDITS,
        "balance_after": Integer(minimum=0, maximum=CREDITS_MAX, nullable=True),
        "amount": Decimal(
            places=2,
            minimum="-99999999",
            nullable=True,
            description="Money of the movement (e.g. a purchase's total), else null",
        ),
        "reference": String(min_length=None, nullable=True),
        "actor": LEDGER_ACTOR,
    },
    required=(
        "id",
        "created_at",
        "occurred_at",
        "type",
        "account",
        "credits",
        "balance_after",
        "amount",
        "reference",
        "actor",
    ),
)

TRANSFER_CREATE = Object(
    name="TransferCreate",
    properties={"from": ACCOUNT, "to": ACCOUNT, "credits": CREDITS},
    required=("from", "to", "credits"),
)
TRANSFER = Object(
    name="Transfer",
    properties={"from": LEDGER_ENTRY, "to": LEDGER_ENTRY},
    required=("from", "to"),
    description="The two ledger entries: out of `from`, into `to`.",
)
WITHDRAWAL_CREATE = Object(
    name="WithdrawalCreate",
    properties={
        "credits": CREDITS,
        "account": ACCOUNT,
        "reason": String(max_length=200, description="Kept as the entry's reference"),
    },
    required=("credits", "account"),
)
USAGE_CREATE = Object(
    name="UsageCreate",
    properties={
        "credits": CREDITS,
        "account": ACCOUNT,
        "reference": String(max_length=200, description="The sending platform's reference"),
        "occurred_at": DateTime(
            description="When the SMS were sent (default now); late events up to 35 days old"
        ),
    },
    required=("credits", "reference"),
)

MOVEMENT_FILTERS = {
    "since": DateTime(description="Created at or after (ISO 8601 with zone; encode + as %2B)"),
    "until": DateTime(description="Created before"),
    "type": String(
        max_length=200,
        pattern=f"({'|'.join(ENTRY_TYPES)})(,({'|'.join(ENTRY_TYPES)}))*",
        description="One type or several, comma-separated: " + ", ".join(ENTRY_TYPES),
    ),
    "account": ACCOUNT,
}
MOVEMENT_QUERY = Object(properties={**MOVEMENT_FILTERS, **LIST_QUERY})
MOVEMENT_CSV_QUERY = Object(properties=dict(MOVEMENT_FILTERS))
MOVEMENT_PAGE = page_of(LEDGER_ENTRY, "LedgerEntryList")

INVOICE_LINE = Object(
    name="InvoiceLine",
    properties={
        "description": String(max_length=300),
        "quantity": Integer(minimum=-CREDITS_MAX, maximum=CREDITS_MAX),
        "unit_price": Decimal(places=4, minimum="-999999.9999", maximum="999999.9999"),
        "amount": Decimal(places=4, minimum="-99999999", description="Not rounded: the totals are"),
        "occurred_at": String(format="date-time", max_length=40, nullable=True),
        "reference": String(min_length=None, nullable=True),
    },
    required=("description", "quantity", "unit_price", "amount", "occurred_at", "reference"),
)
INVOICE_BILLING_FIELDS = ("type", "name", "address", "tax_id", "email", "country")
INVOICE_BILLING = Object(
    name="InvoiceBilling",
    description="The billing details and country as they were when issued",
    properties={
        name: String(min_length=None, max_length=1000, nullable=True)
        for name in INVOICE_BILLING_FIELDS
    },
    required=INVOICE_BILLING_FIELDS,
)
INVOICE = Object(
    name="Invoice",
    description="A tax invoice / receipt of a purchase (kind receipt) or a monthly invoice.",
    properties={
        "id": ID,
        "organization_id": ID,
        "number": String(max_length=40, description="Numbered per reseller without gaps"),
        "kind": String(enum=tuple(InvoiceKind)),
        "period": String(
            max_length=7, pattern=r"\d{4}-\d{2}", nullable=True, description="Monthly invoices"
        ),
        "issued_at": TIME,
        "paid_at": String(format="date-time", max_length=40, nullable=True),
        "currency": CURRENCY,
        "subtotal": MONEY,
        "tax_percent": PERCENT,
        "tax": MONEY,
        "total": MONEY,
        "status": String(enum=tuple(InvoiceStatus)),
        "billing": INVOICE_BILLING,
        "lines": Array(items=INVOICE_LINE, max_items=100_000),
    },
    required=(
        "id",
        "organization_id",
        "number",
        "kind",
        "period",
        "issued_at",
        "paid_at",
        "currency",
        "subtotal",
        "tax_percent",
        "tax",
        "total",
        "status",
        "billing",
        "lines",
    ),
)
INVOICE_PAGE = page_of(INVOICE, "InvoiceList")
INVOICE_QUERY = Object(properties=dict(LIST_QUERY))

ERROR = Object(
    name="Error",
    properties={
        "error": Object(
            name="ErrorDetail",
            properties={
                "code": String(description="Stable machine-readable code"),
                "message": String(max_length=1000, description="In the Accept-Language"),
                "fields": Map(description="Field path → message (422)"),
            },
            required=("code", "message", "fields"),
        )
    },
    required=("error",),
)
