"""Models, one module per aggregate; imported here so Alembic and the app see all tables."""

from tenants.models.api_keys import ApiKey, IdempotencyKey
from tenants.models.audit import AuditEntry
from tenants.models.billing import (
    Invoice,
    InvoiceItem,
    InvoiceKind,
    InvoiceLine,
    InvoiceSequence,
    InvoiceStatus,
    Purchase,
    PurchaseStatus,
)
from tenants.models.campaigns import (
    Campaign,
    CampaignRun,
    CampaignStatus,
    Repeat,
    RunRefusal,
    RunStatus,
)
from tenants.models.change_requests import (
    ChangeRequest,
    ChangeRequestKind,
    ChangeRequestStatus,
)
from tenants.models.contacts import (
    Contact,
    ContactImport,
    ContactList,
    ImportKind,
    ImportRejection,
    OptOut,
    OptOutSource,
)
from tenants.models.forecast import UsageDay
from tenants.models.jobs import JobRunnerBeat, QueuedJob
from tenants.models.ledger import (
    AccountKind,
    CreditAccount,
    EntryType,
    LedgerEntry,
)
from tenants.models.messaging import (
    Message,
    MessageRecipient,
    MessageStatus,
    RecipientStatus,
    SmppPart,
)
from tenants.models.notices import SavedPaymentMethod, SmsMessage
from tenants.models.organizations import (
    BillingType,
    Member,
    MemberRole,
    Organization,
    OrganizationStatus,
    PricingModel,
)
from tenants.models.ownership import OwnershipTransfer, OwnershipTransferStatus
from tenants.models.postpaid import (
    BillingRun,
    BillingRunStatus,
    Charge,
    Payment,
    PaymentStatus,
    PostpaidAccount,
)
from tenants.models.pricing import PriceListEntry, TaxRate
from tenants.models.resellers import Reseller, ResellerRole, ResellerStaff, ResellerStatus
from tenants.models.support import SupportMode, SupportSession, SupportSessionEnd
from tenants.models.two_factor import PlatformSettings, RecoveryCode, TotpCredential
from tenants.models.usage_references import UsageReference
from tenants.models.users import (
    LoginFailure,
    PlatformRole,
    PlatformStaff,
    User,
    UserSession,
)
from tenants.models.wholesale import (
    MarginRate,
    WholesaleDay,
    WholesaleDraw,
    WholesaleLot,
    WholesalePool,
)

__all__ = [
    "AccountKind",
    "ApiKey",
    "AuditEntry",
    "BillingRun",
    "BillingRunStatus",
    "BillingType",
    "Campaign",
    "CampaignRun",
    "CampaignStatus",
    "ChangeRequest",
    "ChangeRequestKind",
    "ChangeRequestStatus",
    "Charge",
    "Contact",
    "ContactImport",
    "ContactList",
    "CreditAccount",
    "EntryType",
    "IdempotencyKey",
    "ImportKind",
    "ImportRejection",
    "Invoice",
    "InvoiceItem",
    "InvoiceKind",
    "InvoiceLine",
    "InvoiceSequence",
    "InvoiceStatus",
    "JobRunnerBeat",
    "LedgerEntry",
    "LoginFailure",
    "MarginRate",
    "Member",
    "MemberRole",
    "Message",
    "MessageRecipient",
    "MessageStatus",
    "OptOut",
    "OptOutSource",
    "Organization",
    "OrganizationStatus",
    "OwnershipTransfer",
    "OwnershipTransferStatus",
    "Payment",
    "PaymentStatus",
    "PlatformRole",
    "PlatformSettings",
    "PlatformStaff",
    "PostpaidAccount",
    "PriceListEntry",
    "PricingModel",
    "Purchase",
    "PurchaseStatus",
    "QueuedJob",
    "RecipientStatus",
    "RecoveryCode",
    "Repeat",
    "Reseller",
    "ResellerRole",
    "ResellerStaff",
    "ResellerStatus",
    "RunRefusal",
    "RunStatus",
    "SavedPaymentMethod",
    "SmppPart",
    "SmsMessage",
    "SupportMode",
    "SupportSession",
    "SupportSessionEnd",
    "TaxRate",
    "TotpCredential",
    "UsageDay",
    "UsageReference",
    "User",
    "UserSession",
    "WholesaleDay",
    "WholesaleDraw",
    "WholesaleLot",
    "WholesalePool",
]
