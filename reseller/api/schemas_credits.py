"""The API's objects for credits: balance, purchases, transfers, withdrawals, usage, movements,
invoices and payments."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from reseller.api.schemas import (
    CREDITS_MAX,
    Credits,
    Currency,
    Id,
    Money,
    NextCursor,
    SignedMoney,
    Time,
)
from reseller.api.spec import ApiModel, ListQuery, decimal, integer, moment, one_of, pattern, text
from tenants.credits.operations import MAX_CREDITS
from tenants.credits.payments import PROVIDERS
from tenants.models import EntryType, InvoiceKind, InvoiceStatus, PaymentStatus, PurchaseStatus

ENTRY_TYPES = tuple(kind.value for kind in EntryType)
Account = pattern(
    "system|member:[A-Za-z0-9_]{1,40}",
    48,
    description='"system" (the system pool) or "member:<member id>" (individual credits)',
    examples=["system"],
)
AccountLabel = Annotated[str, Field(max_length=48, pattern=r"^(?:system|member:[A-Za-z0-9_]+)$")]
CreditCount = integer(1, MAX_CREDITS, description="Credits (one credit = one SMS)")
SignedCredits = integer(
    -CREDITS_MAX, CREDITS_MAX, description="Incoming positive, outgoing negative"
)
ExactPrice = Annotated[
    str, Field(pattern=r"^-?[0-9]+\.[0-9]+$", description="With all its decimals")
]
PercentText = Annotated[str, Field(pattern=r"^[0-9]+(?:\.[0-9]+)?$", examples=["21"])]

# ---------------------------------------------------------------------------
# Balance


class MemberCredits(ApiModel):
    member_id: Id
    credits: Credits


class Balance(ApiModel):
    system_credits: Credits
    users: list[MemberCredits] = Field(
        max_length=100_000, description="Members' individual credit accounts"
    )
    total_credits: Credits
    reserved_credits: Credits = Field(
        description="Held for scheduled campaign runs (their next run each): part of "
        "total_credits that no usage, message, transfer or withdrawal can take"
    )
    available_credits: Credits = Field(description="total_credits - reserved_credits")
    unbilled: Money = Field(description="Postpaid: the charges not yet invoiced, before tax (net)")
    unbilled_tax: Money = Field(
        description="Postpaid: the tax the unbilled charges will carry (each at the rate of "
        "its moment)"
    )
    open_invoices: Money = Field(description="Postpaid: what the open invoices still owe")
    credit_on_account: Money = Field(
        description="Postpaid: payments received beyond the open invoices, not yet applied; "
        "they settle the next invoice"
    )
    debt: Money = Field(
        description="unbilled + unbilled_tax + open_invoices - credit_on_account, never below "
        "zero (what is left of the credit stays in credit_on_account); the credit limit "
        "compares with it. Each amount is rounded to the currency on its own"
    )
    credit_limit: Money = Field(description="Postpaid credit limit")
    currency: Currency


# ---------------------------------------------------------------------------
# Purchases


class PurchaseCreate(ApiModel):
    credits: CreditCount
    account: Account
    payment_method: one_of(PROVIDERS)
    card_number: pattern(
        "[0-9 -]{12,32}",
        32,
        description="Sandbox only: pay at once with this test card (any number is "
        "approved but 4000 0000 0000 0002, which is declined).",
    ) = None


class PurchaseAmounts(ApiModel):
    currency: Currency
    unit_price: ExactPrice
    subtotal: Money
    tax_percent: PercentText
    tax: Money
    total: Money


class Purchase(ApiModel):
    id: Id
    credits: CreditCount
    account: AccountLabel
    status: Literal[tuple(s.value for s in PurchaseStatus)]  # type: ignore[valid-type]
    payment_method: str = Field(max_length=20)
    amounts: PurchaseAmounts
    receipt_id: str | None = Field(max_length=40, description="The receipt (an invoice) once paid")
    payment_url: str | None = Field(
        max_length=500,
        json_schema_extra={"format": "uri"},
        description="While pending: the portal's card page where a signed-in "
        "administrator completes the payment",
    )
    created_at: Time


# ---------------------------------------------------------------------------
# Ledger entries: transfers, withdrawals, usage, movements


class LedgerActor(ApiModel):
    """Who made the movement"""

    type: Literal["user", "api_key", "system"] = Field(
        description="A person in the portal, an API key, or the platform itself"
    )
    id: str | None = Field(max_length=40, description="The user id or API key id")
    email: str | None = Field(max_length=254, description="The person's email")
    support_agent_email: str | None = Field(
        max_length=254, description="During a login-as support session: the agent really acting"
    )


class LedgerEntry(ApiModel):
    id: Id
    created_at: Time
    occurred_at: Time
    type: Literal[ENTRY_TYPES]  # type: ignore[valid-type]
    account: AccountLabel
    credits: SignedCredits
    balance_after: Credits | None = Field(
        description=(
            "The account's balance after this movement, as the balance shows it; 0 for a "
            "postpaid organization (its usage is billed, not deducted); null on the "
            "counter-accounts"
        )
    )
    amount: SignedMoney | None = Field(
        description="Money of the movement (e.g. a purchase's total), else null"
    )
    reference: str | None = Field(max_length=200)
    actor: LedgerActor


class TransferCreate(ApiModel):
    """Between two different accounts."""

    source: Account = Field(alias="from")
    target: Account = Field(alias="to")
    credits: CreditCount


class Transfer(ApiModel):
    """The two ledger entries: out of `from`, into `to`."""

    source: LedgerEntry = Field(alias="from")
    target: LedgerEntry = Field(alias="to")


class WithdrawalCreate(ApiModel):
    credits: CreditCount
    account: Account
    reason: text(description="Kept as the entry's reference") = None
    close_out: bool = Field(
        False,
        description="Withdrawing to close the organization: no low-balance alert is sent "
        "(none is for a suspended organization either)",
    )


class UsageCreate(ApiModel):
    credits: CreditCount
    account: Account = None
    reference: text(description="The sending platform's reference")
    occurred_at: moment(
        description="When the SMS were sent (default now); late events up to 35 days old"
    ) = None


TYPES = "|".join(ENTRY_TYPES)


class MovementFilters(ApiModel):
    since: moment(
        description="Happened (`occurred_at`) at or after (ISO 8601 with zone; encode + as %2B)"
    ) = None
    until: moment(description="Happened (`occurred_at`) before") = None
    type: pattern(
        f"(?:{TYPES})(?:,(?:{TYPES}))*",
        200,
        description="One type or several, comma-separated: " + ", ".join(ENTRY_TYPES),
    ) = None
    account: Account = None


class MovementQuery(MovementFilters, ListQuery):
    pass


class LedgerEntryList(ApiModel):
    data: list[LedgerEntry] = Field(max_length=100)
    next_cursor: NextCursor


# ---------------------------------------------------------------------------
# Invoices

INVOICE_BILLING_FIELDS = ("type", "name", "address", "tax_id", "email", "country")
BillingText = Annotated[str | None, Field(max_length=1000)]


class InvoiceLine(ApiModel):
    description: str = Field(
        max_length=300, description="In the language of `Accept-Language` (English by default)"
    )
    quantity: SignedCredits
    unit_price: ExactPrice = Field(description="With all its decimals (0.045)")
    amount: Money = Field(
        description="quantity x unit_price, rounded half-up to the currency's minor unit"
    )
    tax_percent: PercentText = Field(description="The rate this line is taxed at")
    occurred_at: str | None = Field(max_length=40, json_schema_extra={"format": "date-time"})
    reference: str | None = Field(max_length=200)


class InvoiceTax(ApiModel):
    """The tax of one rate: computed on its base and rounded once"""

    percent: PercentText
    base: Money = Field(description="The sum of the amounts of the lines at this rate")
    tax: Money


class InvoiceSeller(ApiModel):
    """The seller (the reseller) as it was when issued"""

    name: BillingText = Field(description="Legal name")
    address: BillingText
    tax_id: BillingText
    country: BillingText = Field(description="ISO 3166-1 alpha-2")


class InvoiceBilling(ApiModel):
    """The billing details and country as they were when issued"""

    type: BillingText
    name: BillingText
    address: BillingText
    tax_id: BillingText
    email: BillingText
    country: BillingText


class Invoice(ApiModel):
    """A tax invoice / receipt of a purchase (kind receipt) or a monthly invoice."""

    id: Id
    organization_id: Id
    number: str = Field(max_length=40, description="Numbered per reseller without gaps")
    kind: Literal[tuple(k.value for k in InvoiceKind)]  # type: ignore[valid-type]
    period: str | None = Field(pattern=r"^[0-9]{4}-[0-9]{2}$", description="Monthly invoices")
    issued_at: Time
    paid_at: str | None = Field(max_length=40, json_schema_extra={"format": "date-time"})
    currency: Currency
    subtotal: Money = Field(description="The sum of the line amounts")
    tax: Money = Field(description="The sum of the taxes per rate")
    total: Money = Field(description="subtotal + tax")
    status: Literal[tuple(s.value for s in InvoiceStatus)]  # type: ignore[valid-type]
    billing: InvoiceBilling
    seller: InvoiceSeller
    taxes: list[InvoiceTax] = Field(max_length=100, description="One entry per tax rate")
    lines: list[InvoiceLine] = Field(max_length=100_000)


class InvoiceList(ApiModel):
    data: list[Invoice] = Field(max_length=100)
    next_cursor: NextCursor


# ---------------------------------------------------------------------------
# Payments (postpaid)


class PaymentCreate(ApiModel):
    amount: decimal("99999999", 2, low="0.01", examples=["120.00"])
    reference: text(required=False, description="e.g. the bank transfer's reference") | None = None


class PaymentVoid(ApiModel):
    reason: text(500, one_line=False, description="Why it is void, e.g. the transfer bounced")


class Payment(ApiModel):
    id: Id
    organization_id: Id
    amount: Money
    currency: Currency
    reference: str | None = Field(max_length=200)
    status: Literal[tuple(s.value for s in PaymentStatus)]  # type: ignore[valid-type]
    created_at: Time
    voided_at: Time | None
    void_reason: str | None = Field(max_length=500)
    debt: SignedMoney = Field(description="Debt after it")
