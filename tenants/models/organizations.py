"""Customer organizations and their members."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    DDL,
    BigInteger,
    Computed,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tenants.core.extensions import db
from tenants.core.types import Money, UTCDateTime, new_id, utcnow
from tenants.models.base import enum_column_type
from tenants.models.forecast_days import (
    FORECAST_DAYS_CAP,
    FORECAST_DAYS_LEFT_SQL,
    NO_FORECAST_DAYS,
    days_left,
)
from tenants.models.resellers import Reseller
from tenants.models.users import User


class OrganizationStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DELETED = "deleted"


class PricingModel(enum.StrEnum):
    PREPAID = "prepaid"
    POSTPAID = "postpaid"


class BillingType(enum.StrEnum):
    INDIVIDUAL = "individual"
    COMPANY = "company"


class MemberRole(enum.StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


class Organization(db.Model):
    """A reseller's customer account (SPEC §2, the organization object of §7)."""

    __tablename__ = "organizations"
    __table_args__ = (
        # The Customer app's order (case-insensitive name, id) with and without a status filter:
        # a page is an index range scan whatever the number of organizations. On PostgreSQL
        # the first also carries days left and status, so "runs out within N days" in name
        # order is checked on the index alone (tenants.organizations.listing._ids_first).
        Index(
            "ix_organizations_reseller_search_name",
            "reseller_id",
            "search_name",
            "id",
            postgresql_include=["forecast_days_left", "status"],
        ),
        Index(
            "ix_organizations_reseller_status_search_name",
            "reseller_id",
            "status",
            "search_name",
            "id",
        ),
        # The list's "low balance" filter: only the low organizations, in the list's order, so
        # a page is an index walk however few of the reseller's organizations are low.
        Index(
            "ix_organizations_reseller_low_balance",
            "reseller_id",
            "search_name",
            "id",
            postgresql_where=text("low_balance"),
            sqlite_where=text("low_balance"),
        ),
        # The list's forecast order and its "runs out within N days" filter (keyset on
        # days left, no usage last, then id): an index range whatever the number of rows.
        Index("ix_organizations_reseller_forecast", "reseller_id", "forecast_days_left", "id"),
        # Substring search on name and billing name: a trigram index on PostgreSQL (the
        # extension is created before the table, see below); a plain index elsewhere.
        Index(
            "ix_organizations_search_text_trgm",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("org"))
    reseller_id: Mapped[str] = mapped_column(ForeignKey("resellers.id"))
    name: Mapped[str] = mapped_column(String(200))
    # Kept in step with name and billing name by the mapper events below (search_key).
    search_name: Mapped[str] = mapped_column(String(200), default="")
    search_text: Mapped[str] = mapped_column(String(700), default="")
    # The owner's login email, kept here (by the services that change it) so one trigram
    # index answers "name, billing name or owner email contains …".
    owner_email: Mapped[str] = mapped_column(String(254), default="", server_default="")
    status: Mapped[OrganizationStatus] = mapped_column(
        enum_column_type(OrganizationStatus, "organization_status"),
        default=OrganizationStatus.ACTIVE,
    )
    country: Mapped[str] = mapped_column(String(2))
    currency: Mapped[str] = mapped_column(String(3))
    timezone: Mapped[str] = mapped_column(String(64))
    pricing_model: Mapped[PricingModel] = mapped_column(
        enum_column_type(PricingModel, "pricing_model")
    )
    individual_user_credits: Mapped[bool] = mapped_column(default=False)
    credit_limit: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))

    billing_type: Mapped[BillingType] = mapped_column(
        enum_column_type(BillingType, "billing_type"), default=BillingType.COMPANY
    )
    billing_name: Mapped[str | None] = mapped_column(String(200))
    billing_address: Mapped[str | None] = mapped_column(Text)
    billing_tax_id: Mapped[str | None] = mapped_column(String(64))
    billing_email: Mapped[str | None] = mapped_column(String(254))
    # The bank account (seed 000: "when you change banking institution"), an IBAN stored
    # compact (tenants.core.validation.clean_iban) and shown masked.
    billing_iban: Mapped[str | None] = mapped_column(String(34))

    sender_name: Mapped[str | None] = mapped_column(String(20))
    notification_email: Mapped[str | None] = mapped_column(String(254))
    notification_mobile: Mapped[str | None] = mapped_column(String(32))
    low_balance_alert: Mapped[bool] = mapped_column(default=False)
    low_balance_threshold: Mapped[int] = mapped_column(BigInteger, default=0)
    alert_email: Mapped[str | None] = mapped_column(String(254))

    auto_top_up_enabled: Mapped[bool] = mapped_column(default=False)
    auto_top_up_below: Mapped[int] = mapped_column(BigInteger, default=0)
    auto_top_up_credits: Mapped[int] = mapped_column(BigInteger, default=0)
    # At most this many automatic top-ups a calendar month (in the organization's timezone);
    # AUTO_TOP_UP_MONTHLY_CAP, the platform's ceiling, may lower it (tenants.credits.topups).
    auto_top_up_monthly_limit: Mapped[int] = mapped_column(Integer, default=10, server_default="10")

    # Denormalized balance for the Customer app's list (each row shows it, no N+1) and its
    # low-balance / has-debt filters over 100,000 organizations. The ledger and the postpaid
    # account stay the truth (deletion and pricing-model checks ask them, through
    # tenants.organizations.operations); the credits and postpaid code keep these
    # equal to it -- total_credits = system pool + member accounts, debt = unbilled charges +
    # unpaid invoices -- in the same transaction as each ledger posting.
    total_credits: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # Of total_credits, what scheduled campaign runs hold reserved (tenants.credits.
    # reservations keeps it with the accounts' ``reserved``): the list shows the difference.
    reserved_credits: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    debt: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"), server_default="0")
    # "Low balance" as the list filters it, computed and stored by the database. The partial
    # index above is on this flag rather than on the expression: an index whose predicate
    # named total_credits would make every usage charge's UPDATE of total_credits a non-HOT
    # update (a new entry in every index of the table, the trigram one included); on the flag
    # only a charge that crosses the threshold does.
    low_balance: Mapped[bool] = mapped_column(
        Computed(
            "pricing_model = 'prepaid' AND total_credits <= low_balance_threshold",
            persisted=True,
        )
    )

    # The forecast (SPEC §4, tenants.credits.forecast): the usage of the last 7 days (credits,
    # and for postpaid the money it was charged with tax), kept by the usage paths from the
    # daily totals (UsageDay) in the same transaction and re-read each hour as days pass;
    # days left computed and stored by the database from them and the balance it divides,
    # so a purchase, a payment or a new credit limit moves it too. "Warn me N days before I
    # run out": forecast_alert_days (None: off).
    forecast_usage_7d: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    forecast_charge_7d: Mapped[Decimal] = mapped_column(
        Money(), default=Decimal("0"), server_default="0"
    )
    forecast_days_left: Mapped[int | None] = mapped_column(
        BigInteger, Computed(FORECAST_DAYS_LEFT_SQL, persisted=True)
    )
    forecast_alert_days: Mapped[int | None] = mapped_column(Integer)
    # The first day of the window the sums above were read for: a usage whose window starts
    # there adds its credits to them in place (tenants.credits.ledger_one's one statement);
    # otherwise the window slid and is re-read.
    forecast_window_start: Mapped[date | None] = mapped_column(Date)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    suspension_reason: Mapped[str | None] = mapped_column(String(500))
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    reseller: Mapped[Reseller] = relationship()

    @property
    def effective_billing_name(self) -> str:
        return self.billing_name or self.name

    @property
    def forecast_days(self) -> int | None:
        """Days left at the last 7 days' usage, exactly; None without a forecast."""
        days = self.forecast_days_left
        if days is None or days >= NO_FORECAST_DAYS:
            return None
        if days < FORECAST_DAYS_CAP:
            return days
        return days_left(
            self.pricing_model,
            self.total_credits,
            self.debt,
            self.credit_limit,
            self.forecast_usage_7d,
            self.forecast_charge_7d,
            reserved_credits=self.reserved_credits,
        )

    @property
    def forecast_beyond_cap(self) -> bool:
        """Days left beyond ten years: the list shows "More than 10 years" and orders these
        after every shorter forecast, by id (FORECAST_DAYS_CAP)."""
        days = self.forecast_days_left
        return days is not None and FORECAST_DAYS_CAP <= days < NO_FORECAST_DAYS

    @property
    def is_active(self) -> bool:
        return self.status == OrganizationStatus.ACTIVE

    def __repr__(self) -> str:
        return f"<Organization {self.id} {self.name!r}>"


def search_key(value: str | None) -> str:
    """How names are compared when searching and sorting: case-folded, trimmed."""
    return (value or "").strip().casefold()


@event.listens_for(Organization, "before_insert")
@event.listens_for(Organization, "before_update")
def _refresh_search_columns(_mapper, _connection, org: Organization) -> None:
    org.search_name = search_key(org.name)[:200]
    org.search_text = search_text(org.name, org.billing_name, org.owner_email)


def search_text(name: str | None, billing_name: str | None, owner_email: str | None) -> str:
    """What the Customer app's search box looks in, case-folded, one field per line."""
    return "\n".join(search_key(value) for value in (name, billing_name, owner_email))[:700]


# The trigram index needs pg_trgm, created before any table; the migration that adds the
# index runs CREATE EXTENSION IF NOT EXISTS pg_trgm first.
event.listen(
    db.metadata,
    "before_create",
    DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm").execute_if(dialect="postgresql"),
)


# The line-start search (PostgreSQL only; tenants/organizations/listing_search.py, B2). search_text
# is name, billing name and owner email, one a line. A term (one line: the search box refuses
# line breaks) occurs in it either at the start of a line -- a prefix of search_name, of
# search_line2 or of search_line3, each a btree range that also holds search_name and id, so
# every such match costs an index entry, not a row -- or elsewhere, which the trigram index
# on search_rest (search_text without the first character of each line; the whole text when
# it has more than three lines) finds. Computed by the database from search_text, so they
# cannot disagree with it; created here for create_all and by migration 7b1e4c2d9a05.
SEARCH_LINES_DDL = (
    r"""ALTER TABLE organizations
    ADD COLUMN search_line2 varchar(700)
        GENERATED ALWAYS AS (split_part(search_text, E'\n', 2)) STORED,
    ADD COLUMN search_line3 varchar(700)
        GENERATED ALWAYS AS (split_part(search_text, E'\n', 3)) STORED,
    ADD COLUMN search_rest varchar(700) GENERATED ALWAYS AS (
        CASE WHEN search_text LIKE E'%\n%\n%\n%' THEN search_text
             ELSE regexp_replace(search_text, E'(^|\n)[^\n]', E'\\1', 'g') END
    ) STORED""",
    "CREATE INDEX ix_organizations_search_name_prefix ON organizations"
    " (reseller_id, search_name text_pattern_ops) INCLUDE (id, status)",
    "CREATE INDEX ix_organizations_search_line2_prefix ON organizations"
    " (reseller_id, search_line2 text_pattern_ops) INCLUDE (search_name, id, status)",
    "CREATE INDEX ix_organizations_search_line3_prefix ON organizations"
    " (reseller_id, search_line3 text_pattern_ops) INCLUDE (search_name, id, status)",
    "CREATE INDEX ix_organizations_search_rest_trgm ON organizations"
    " USING gin (search_rest gin_trgm_ops)",
)
# Outside the models' metadata (like the ledger's triggers): what the schema comparison of
# migrations and models leaves out, and checks apart (tests/foundation/test_cli.py).
SEARCH_LINES_OBJECTS = frozenset(
    {
        "search_line2",
        "search_line3",
        "search_rest",
        "ix_organizations_search_name_prefix",
        "ix_organizations_search_line2_prefix",
        "ix_organizations_search_line3_prefix",
        "ix_organizations_search_rest_trgm",
    }
)
for _statement in SEARCH_LINES_DDL:
    event.listen(
        Organization.__table__,
        "after_create",
        DDL(_statement.replace("%", "%%")).execute_if(dialect="postgresql"),
    )


class Member(db.Model):
    """A person's membership of one organization: role and portal access."""

    __tablename__ = "members"
    __table_args__ = (
        UniqueConstraint("organization_id", "user_id"),
        # One owner per organization, enforced by the database.
        Index(
            "uq_members_one_owner",
            "organization_id",
            unique=True,
            sqlite_where=text("role = 'owner' AND removed_at IS NULL"),
            postgresql_where=text("role = 'owner' AND removed_at IS NULL"),
        ),
        Index("ix_members_reseller", "reseller_id"),
        Index("ix_members_user", "user_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("mem"))
    reseller_id: Mapped[str] = mapped_column(ForeignKey("resellers.id"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    role: Mapped[MemberRole] = mapped_column(enum_column_type(MemberRole, "member_role"))
    portal_access: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The invitation in force (tenants.organizations.invitations): when it was last sent
    # (None: none pending, never sent or revoked), its language, and a serial that every
    # withdrawal of it bumps, so the links sent before no longer work.
    invited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    invitation_language: Mapped[str | None] = mapped_column(String(8))
    invitation_serial: Mapped[int] = mapped_column(default=0, server_default="0")

    organization: Mapped[Organization] = relationship()
    user: Mapped[User] = relationship()

    @property
    def is_admin(self) -> bool:
        return self.role in (MemberRole.OWNER, MemberRole.ADMIN)

    def __repr__(self) -> str:
        return f"<Member {self.id} {self.role}>"
