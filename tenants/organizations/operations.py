"""Customer organizations: create, list, edit, suspend, reactivate and delete them."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.numbers import get_currency_precision
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import aliased

from tenants.access.actors import Actor
from tenants.access.policy import Permission, WhileActing, can, refuse_while_acting, require
from tenants.access.scoping import organizations_query
from tenants.audit import log as audit
from tenants.balances import organization_credits, organization_debt
from tenants.core.errors import (
    BalanceNotZero,
    Conflict,
    MemberCreditsRemain,
    OutstandingDebt,
    PricingModelLocked,
    ValidationFailed,
)
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.core.validation import (
    clean_country,
    clean_currency,
    clean_email,
    clean_mobile,
    clean_text,
    clean_timezone,
    default_currency,
    default_timezone,
)
from tenants.models import (
    BillingType,
    Member,
    MemberRole,
    Organization,
    OrganizationStatus,
    PricingModel,
    Reseller,
)
from tenants.models.organizations import search_key
from tenants.people import invitations as notifications
from tenants.people.users import get_or_create_user

MAX_CREDITS = 10**12
MAX_CREDIT_LIMIT = Decimal("99999999")  # NUMERIC(12, 4) holds 8 integer digits


@dataclass
class BillingDetails:
    type: str = BillingType.COMPANY.value
    name: str | None = None
    address: str | None = None
    tax_id: str | None = None
    email: str | None = None


@dataclass
class NewOrganization:
    name: str
    country: str
    pricing_model: str
    owner_name: str
    owner_email: str
    currency: str | None = None
    timezone: str | None = None
    billing: BillingDetails = field(default_factory=BillingDetails)


def _collect(*checks: Callable[[], Any]) -> list:
    """Run every check, gathering every field error into one ValidationFailed."""
    results, errors = [], {}
    for check in checks:
        try:
            results.append(check())
        except ValidationFailed as error:
            errors.update(error.fields)
            results.append(None)
    if errors:
        raise ValidationFailed(fields=errors)
    return results


def _collect_named(checks: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    return dict(zip(checks, _collect(*checks.values()), strict=True))


def _pricing_model(value, path: str = "pricing_model") -> PricingModel:
    try:
        return PricingModel(value)
    except ValueError as exc:
        raise ValidationFailed(fields={path: str(_l("Choose prepaid or postpaid."))}) from exc


def _billing_type(value, path: str = "billing.type") -> BillingType:
    try:
        return BillingType(value or BillingType.COMPANY.value)
    except ValueError as exc:
        raise ValidationFailed(fields={path: str(_l("Choose individual or company."))}) from exc


def _clean_billing(billing: BillingDetails) -> dict:
    return _collect_named(
        {
            "billing_type": lambda: _billing_type(billing.type),
            "billing_name": lambda: clean_text(
                billing.name, "billing.name", max_length=200, required=False
            ),
            "billing_address": lambda: clean_text(
                billing.address, "billing.address", max_length=1000, required=False
            ),
            "billing_tax_id": lambda: clean_text(
                billing.tax_id, "billing.tax_id", max_length=64, required=False
            ),
            "billing_email": lambda: clean_email(billing.email, "billing.email", required=False),
        }
    )


# -- creating -------------------------------------------------------------------------------


def create_organization(actor: Actor, reseller: Reseller, data: NewOrganization) -> Organization:
    """Create an organization and its owner, who is invited by email to set a password.

    Currency and timezone default from the country when not given. Field errors are keyed by
    the API's JSON paths ("owner.email", "billing.name", ...). Billing name left empty means
    "the organization's name" (Organization.effective_billing_name).
    """
    require(actor, Permission.CREATE_ORGANIZATION)
    if not isinstance(data.billing, BillingDetails):
        raise ValidationFailed(fields={"billing": str(_l("Must be an object."))})
    name, country, pricing, owner_name, owner_email, billing, _currency, _timezone = _collect(
        lambda: clean_text(data.name, "name", max_length=200),
        lambda: clean_country(data.country),
        lambda: _pricing_model(data.pricing_model),
        lambda: clean_text(data.owner_name, "owner.name", max_length=200),
        lambda: clean_email(data.owner_email, "owner.email"),
        lambda: _clean_billing(data.billing),
        # Checked here too so that every field error is reported at once.
        lambda: data.currency and clean_currency(data.currency),
        lambda: data.timezone and clean_timezone(data.timezone),
    )
    currency, timezone = _collect(
        lambda: clean_currency(data.currency or default_currency(country) or ""),
        lambda: clean_timezone(data.timezone or default_timezone(country) or ""),
    )
    org = Organization(
        reseller_id=reseller.id,
        name=name,
        country=country,
        currency=currency,
        timezone=timezone,
        pricing_model=pricing,
        credit_limit=Decimal("0"),
        **billing,
    )
    db.session.add(org)
    db.session.flush()
    user, _new = get_or_create_user(owner_email, owner_name, language=reseller.default_language)
    owner = Member(
        reseller_id=reseller.id,
        organization_id=org.id,
        user_id=user.id,
        role=MemberRole.OWNER,
        portal_access=True,
    )
    db.session.add(owner)
    org.owner_email = user.email
    db.session.flush()
    audit.record(
        actor,
        "organization.created",
        reseller_id=reseller.id,
        organization_id=org.id,
        target_type="organization",
        target_id=org.id,
        changes={
            "name": [None, name],
            "country": [None, country],
            "currency": [None, currency],
            "timezone": [None, timezone],
            "pricing_model": [None, pricing.value],
            "billing.type": [None, billing["billing_type"].value],
            "billing.name": [None, billing["billing_name"]],
            "owner": [None, user.email],
        },
    )
    notifications.send_invitation(owner)
    return org


# -- editing --------------------------------------------------------------------------------


def _optional_text(max_length: int) -> Callable[[Any, str], str | None]:
    return lambda value, path: clean_text(value, path, max_length=max_length, required=False)


def _required_text(max_length: int) -> Callable[[Any, str], str | None]:
    return lambda value, path: clean_text(value, path, max_length=max_length)


def _optional_email(value, path: str) -> str | None:
    return clean_email(value, path, required=False)


def _boolean(value, path: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationFailed(fields={path: str(_l("Must be true or false."))})
    return value


def _credits(value, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(fields={path: str(_l("Enter a whole number of credits."))})
    if not 0 <= value <= MAX_CREDITS:
        raise ValidationFailed(
            fields={path: str(_l("Enter a number between 0 and 1,000,000,000,000."))}
        )
    return value


_SENDER_TEXT = re.compile(r"[A-Za-z0-9][A-Za-z0-9 .&-]{0,10}")
_SENDER_NUMBER = re.compile(r"\+?[0-9]{1,15}")


def _sender_name(value, path: str) -> str | None:
    """An SMS sender: up to 11 letters and digits, or a number of up to 15 digits."""
    text = clean_text(value, path, max_length=16, required=False)
    if text is None or _SENDER_NUMBER.fullmatch(text) or _SENDER_TEXT.fullmatch(text):
        return text
    raise ValidationFailed(
        fields={
            path: str(
                _l(
                    "Use up to 11 letters, digits and spaces (no accents), "
                    "or a phone number of up to 15 digits."
                )
            )
        }
    )


def _money(value, path: str) -> Decimal:
    """A decimal string, integer or Decimal (never a float: money is exact)."""
    message = _l("Enter an amount such as 1500.00.")
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise ValidationFailed(fields={path: str(message)})
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValidationFailed(fields={path: str(message)}) from exc
    if not amount.is_finite() or amount < 0 or amount > MAX_CREDIT_LIMIT:
        raise ValidationFailed(fields={path: str(_l("Enter an amount between 0 and 99,999,999."))})
    return amount


@dataclass(frozen=True)
class EditableField:
    attribute: str
    clean: Callable[[Any, str], Any]
    permission: Permission


# Who edits what: general information and reseller-only terms need MANAGE_ORGANIZATION
# (reseller staff); billing details and settings need EDIT_ORGANIZATION_SETTINGS (reseller
# staff and the organization's admins).
_RESELLER = Permission.MANAGE_ORGANIZATION
_ADMINS = Permission.EDIT_ORGANIZATION_SETTINGS

EDITABLE_FIELDS: dict[str, EditableField] = {
    "name": EditableField("name", _required_text(200), _RESELLER),
    "country": EditableField("country", clean_country, _RESELLER),
    "currency": EditableField("currency", clean_currency, _RESELLER),
    "timezone": EditableField("timezone", clean_timezone, _RESELLER),
    "pricing_model": EditableField("pricing_model", _pricing_model, _RESELLER),
    "billing.type": EditableField("billing_type", _billing_type, _ADMINS),
    "billing.name": EditableField("billing_name", _optional_text(200), _ADMINS),
    "billing.address": EditableField("billing_address", _optional_text(1000), _ADMINS),
    "billing.tax_id": EditableField("billing_tax_id", _optional_text(64), _ADMINS),
    "billing.email": EditableField("billing_email", _optional_email, _ADMINS),
    "settings.sender_name": EditableField("sender_name", _sender_name, _ADMINS),
    "settings.notification_email": EditableField("notification_email", _optional_email, _ADMINS),
    "settings.notification_mobile": EditableField("notification_mobile", clean_mobile, _ADMINS),
    "settings.low_balance_alert": EditableField("low_balance_alert", _boolean, _ADMINS),
    "settings.low_balance_threshold": EditableField("low_balance_threshold", _credits, _ADMINS),
    "settings.alert_email": EditableField("alert_email", _optional_email, _ADMINS),
    "credit_limit": EditableField("credit_limit", _money, _RESELLER),
    "individual_user_credits": EditableField("individual_user_credits", _boolean, _RESELLER),
    "auto_top_up.enabled": EditableField("auto_top_up_enabled", _boolean, _ADMINS),
    "auto_top_up.below": EditableField("auto_top_up_below", _credits, _ADMINS),
    "auto_top_up.credits": EditableField("auto_top_up_credits", _credits, _ADMINS),
}


def editable_paths(actor: Actor) -> frozenset[str]:
    """The fields of update_organization this actor may change (forms show only these)."""
    return frozenset(path for path, spec in EDITABLE_FIELDS.items() if can(actor, spec.permission))


def pricing_model_locked(org: Organization) -> bool:
    """The pricing model may change only while no credits are held and nothing is owed."""
    return organization_credits(org) != 0 or organization_debt(org) != 0


def update_organization(actor: Actor, org: Organization, values: dict) -> dict[str, list]:
    """Change the given fields (keyed by API paths); returns ``{path: [before, after]}``.

    Everything is validated before anything changes; unknown fields and wrong types are
    refused, never ignored. Writes one audit entry with the fields that really changed.
    """
    if not isinstance(values, dict):
        raise ValidationFailed()
    unknown = [key for key in values if key not in EDITABLE_FIELDS]
    if unknown:
        raise ValidationFailed(
            fields={str(key)[:100]: str(_l("Unknown field.")) for key in unknown}
        )
    for path in values:
        require(actor, EDITABLE_FIELDS[path].permission)

    cleaned: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for path, raw in values.items():
        try:
            cleaned[path] = EDITABLE_FIELDS[path].clean(raw, path)
        except ValidationFailed as error:
            errors.update(error.fields)
    if "credit_limit" in cleaned:
        places = get_currency_precision(cleaned.get("currency") or org.currency)
        if cleaned["credit_limit"] != round(cleaned["credit_limit"], places):
            errors["credit_limit"] = str(_l("Use at most %(n)d decimal places.", n=places))
    if not errors:
        final = {
            path: cleaned[path] if path in cleaned else getattr(org, spec.attribute)
            for path, spec in EDITABLE_FIELDS.items()
        }
        if final["auto_top_up.enabled"]:
            if final["pricing_model"] != PricingModel.PREPAID:
                errors["auto_top_up.enabled"] = str(
                    _l("Automatic top-up is for prepaid organizations.")
                )
            elif final["auto_top_up.credits"] <= 0:
                errors["auto_top_up.credits"] = str(_l("Enter how many credits to buy."))
    if errors:
        raise ValidationFailed(fields=errors)

    if (
        "pricing_model" in cleaned
        and cleaned["pricing_model"] != org.pricing_model
        and pricing_model_locked(org)
    ):
        raise PricingModelLocked()

    if cleaned.get("individual_user_credits") is False and org.individual_user_credits:
        from tenants.credits.operations import member_credits_total

        if member_credits_total(org) > 0:
            raise MemberCreditsRemain()

    by_attribute = {spec.attribute: path for path, spec in EDITABLE_FIELDS.items()}
    changed = audit.diff(
        org, {EDITABLE_FIELDS[path].attribute: value for path, value in cleaned.items()}
    )
    changes = {by_attribute[name]: change for name, change in changed.items()}
    if changes:
        db.session.flush()
        audit.record(
            actor,
            "organization.updated",
            reseller_id=org.reseller_id,
            organization_id=org.id,
            target_type="organization",
            target_id=org.id,
            changes=changes,
        )
    return changes


# -- lifecycle ------------------------------------------------------------------------------


def _record(actor: Actor, org: Organization, action: str, changes: dict) -> None:
    db.session.flush()
    audit.record(
        actor,
        action,
        reseller_id=org.reseller_id,
        organization_id=org.id,
        target_type="organization",
        target_id=org.id,
        changes=changes,
    )


def suspend_organization(actor: Actor, org: Organization, reason: str) -> None:
    """Members can no longer log in, API keys and usage are refused; nothing is deleted."""
    refuse_while_acting(actor, WhileActing.SUSPEND_ORGANIZATION)
    require(actor, Permission.MANAGE_ORGANIZATION)
    reason = clean_text(reason, "reason", max_length=500)
    if org.status != OrganizationStatus.ACTIVE:
        raise Conflict(_l("Only an active organization can be suspended."))
    changes = audit.diff(
        org,
        {
            "status": OrganizationStatus.SUSPENDED,
            "suspension_reason": reason,
            "suspended_at": utcnow(),
        },
    )
    _record(actor, org, "organization.suspended", changes)


def reactivate_organization(actor: Actor, org: Organization) -> None:
    """Members may log in again; the suspension reason is kept in the audit log."""
    require(actor, Permission.MANAGE_ORGANIZATION)
    if org.status != OrganizationStatus.SUSPENDED:
        raise Conflict(_l("Only a suspended organization can be reactivated."))
    changes = audit.diff(
        org, {"status": OrganizationStatus.ACTIVE, "suspension_reason": None, "suspended_at": None}
    )
    _record(actor, org, "organization.reactivated", changes)


def delete_organization(actor: Actor, org: Organization) -> None:
    """Soft delete: the organization leaves every list and its members cannot log in.

    Refused while it holds credits (withdraw them first) or owes money (clear the debt
    first). Its ledger and invoices are kept for accounting.
    """
    # Never while acting as someone else (SPEC §5).
    refuse_while_acting(actor, WhileActing.DELETE_ORGANIZATION)
    require(actor, Permission.MANAGE_ORGANIZATION)
    # Lock the row: a purchase committing meanwhile either lands before the balance check
    # or finds the organization deleted (the ledger refuses postings to deleted ones).
    db.session.execute(select(Organization.id).where(Organization.id == org.id).with_for_update())
    db.session.refresh(org)
    if org.status == OrganizationStatus.DELETED:
        raise Conflict(_l("The organization is already deleted."))
    if organization_credits(org) != 0:
        raise BalanceNotZero()
    if organization_debt(org) > 0:
        raise OutstandingDebt()
    changes = audit.diff(org, {"status": OrganizationStatus.DELETED, "deleted_at": utcnow()})
    _record(actor, org, "organization.deleted", changes)


# -- the Customer app's list ----------------------------------------------------------------


@dataclass(frozen=True)
class OrganizationPage:
    items: list[Organization]
    next_cursor: str | None
    previous_cursor: str | None


def _encode_cursor(org: Organization, direction: str) -> str:
    payload = json.dumps({"n": org.search_name, "i": org.id, "d": direction}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def _decode_cursor(cursor) -> tuple[str, str, str]:
    invalid = ValidationFailed(fields={"cursor": str(_l("This page link is not valid."))})
    if not isinstance(cursor, str) or len(cursor) > 1000:
        raise invalid
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise invalid from exc
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("n"), str)
        or not isinstance(data.get("i"), str)
        or data.get("d") not in ("next", "prev")
    ):
        raise invalid
    return data["n"], data["i"], data["d"]


def _contains_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _enum_filter(value, enum_cls, path: str, allowed=None):
    if value is None or value == "":
        return None
    try:
        member = enum_cls(value)
    except ValueError:
        member = None
    if member is None or (allowed is not None and member not in allowed):
        raise ValidationFailed(fields={path: str(_l("Not a valid choice."))})
    return member


def _bool_filter(value, path: str) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "yes", "1"):
        return True
    if isinstance(value, str) and value.lower() in ("false", "no", "0"):
        return False
    raise ValidationFailed(fields={path: str(_l("Must be true or false."))})


def _limit(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100:
        raise ValidationFailed(fields={"limit": str(_l("Enter a number between 1 and 100."))})
    return value


def _order(columns, direction: str) -> tuple:
    """The list's order, (search_name, id), or its reverse for a "previous page" cursor."""
    if direction == "prev":
        return columns.search_name.desc(), columns.id.desc()
    return columns.search_name, columns.id


# A search (``q``) is a substring match on search_text: the page is the first matches in
# (search_name, id) order. Which way finds them cheaply depends on how many rows match and
# where they sit in that order, which the planner cannot know (it assumes the matches are
# spread evenly; names that start with the term all sit together), so the service tries,
# in turn and each bounded:
#   1. every match through the trigram index, sorted, if there are at most _FEW_MATCHES:
#      the usual search for a name, a few rows read;
#   2. the ordered walk of the next _WINDOW_PAGES pages' worth of rows, filtered: enough
#      when the term is common (one row in ten or more), whatever the number of rows;
#   3. as 1 up to _SEARCH_MATCH_CAP matches: about one row read per match, wherever they
#      sit in the order;
#   4. the whole ordered walk, filtered: a term with more matches than that, which the walk
#      meets every few dozen rows unless they all sit together late in the order.
# Each answers exactly the same page. The cap balances step 3 (cap rows) against step 4
# (page size / share of matching rows) at about 100,000 organizations.
_FEW_MATCHES = 100
_WINDOW_PAGES = 10
_SEARCH_MATCH_CAP = 2000
# pg_trgm can only narrow a search that has a run of three letters or digits.
_TRIGRAM = re.compile(r"[^\W_]{3}")


def _all_matches(query, matches, direction: str, wanted: int, cap: int):
    """The first ``wanted`` rows of ``query`` filtered by ``matches``, found by sorting every
    match (the trigram index on PostgreSQL); None when there are more than ``cap``."""
    found = (
        query.with_only_columns(Organization.id, Organization.search_name)
        .where(matches)
        .limit(cap + 1)
        .cte("found")
    )
    first = select(found.c.id).order_by(*_order(found.c, direction)).limit(wanted)
    counted = select(func.count()).select_from(found).scalar_subquery()
    result = db.session.execute(
        select(Organization, counted)
        .where(Organization.id.in_(first))
        .order_by(*_order(Organization, direction))
    ).all()
    if result and result[0][1] > cap:
        return None
    return [org for org, _count in result]


def _search_rows(query, term: str, direction: str, wanted: int) -> list[Organization]:
    """The first ``wanted`` organizations of ``query`` whose search_text contains ``term``."""
    pattern = _contains_pattern(term)
    matches = Organization.search_text.like(pattern, escape="\\")
    if _TRIGRAM.search(term):
        rows = _all_matches(query, matches, direction, wanted, _FEW_MATCHES)
        if rows is not None:
            return rows
        walked = (
            query.order_by(*_order(Organization, direction))
            .limit(wanted * _WINDOW_PAGES)
            .subquery("walked")
        )
        rows = list(
            db.session.scalars(
                select(aliased(Organization, walked))
                .where(walked.c.search_text.like(pattern, escape="\\"))
                .order_by(*_order(walked.c, direction))
                .limit(wanted)
            )
        )
        if len(rows) == wanted:
            return rows
        rows = _all_matches(query, matches, direction, wanted, _SEARCH_MATCH_CAP)
        if rows is not None:
            return rows
    return list(
        db.session.scalars(
            query.where(matches).order_by(*_order(Organization, direction)).limit(wanted)
        )
    )


def organization_page(
    actor: Actor,
    *,
    q: str | None = None,
    status=None,
    pricing_model=None,
    low_balance=None,
    has_debt=None,
    limit: int = 50,
    cursor: str | None = None,
) -> OrganizationPage:
    """One page of the organizations the actor may see, in name order, with both cursors.

    Keyset pagination on (search_name, id): each page is an index range scan however deep
    it is. ``q`` matches name, billing name or the owner's email, case-insensitively, through
    the denormalized ``search_text`` column (a trigram index on PostgreSQL; see
    _search_rows). ``low_balance`` and ``has_debt`` read the denormalized
    Organization.total_credits / debt columns the ledger keeps up to date (low_balance
    through the stored flag computed from them).
    """
    require(actor, Permission.VIEW_ORGANIZATION)
    checks = _collect_named(
        {
            "q": lambda: clean_text(q, "q", max_length=200, required=False),
            "status": lambda: _enum_filter(
                status,
                OrganizationStatus,
                "status",
                allowed=(OrganizationStatus.ACTIVE, OrganizationStatus.SUSPENDED),
            ),
            "pricing_model": lambda: _enum_filter(pricing_model, PricingModel, "pricing_model"),
            "low_balance": lambda: _bool_filter(low_balance, "low_balance"),
            "has_debt": lambda: _bool_filter(has_debt, "has_debt"),
            "limit": lambda: _limit(limit),
            "cursor": lambda: _decode_cursor(cursor) if cursor else None,
        }
    )
    query = organizations_query(actor)
    if checks["status"] is not None:
        query = query.where(Organization.status == checks["status"])
    if checks["pricing_model"] is not None:
        query = query.where(Organization.pricing_model == checks["pricing_model"])
    if checks["low_balance"] is not None:
        # The stored flag is "prepaid and total_credits <= low_balance_threshold", with a
        # partial index of the low ones in the list's order.
        low = Organization.low_balance
        query = query.where(low if checks["low_balance"] else ~low)
    if checks["has_debt"] is not None:
        query = query.where(Organization.debt > 0 if checks["has_debt"] else Organization.debt <= 0)

    key = tuple_(Organization.search_name, Organization.id)
    direction = "next"
    if checks["cursor"]:
        name, org_id, direction = checks["cursor"]
        query = query.where(
            key < tuple_(name, org_id) if direction == "prev" else key > tuple_(name, org_id)
        )
    page_size = checks["limit"]
    if checks["q"]:
        rows = _search_rows(query, search_key(checks["q"]), direction, page_size + 1)
    else:
        rows = list(
            db.session.scalars(
                query.order_by(*_order(Organization, direction)).limit(page_size + 1)
            )
        )
    more = len(rows) > page_size
    rows = rows[:page_size]
    if direction == "prev":
        rows.reverse()
        more_before, more_after = more, True
    else:
        more_before, more_after = checks["cursor"] is not None, more
    return OrganizationPage(
        items=rows,
        next_cursor=_encode_cursor(rows[-1], "next") if rows and more_after else None,
        previous_cursor=_encode_cursor(rows[0], "prev") if rows and more_before else None,
    )


def list_organizations(
    actor: Actor,
    *,
    q: str | None = None,
    status=None,
    pricing_model=None,
    low_balance=None,
    has_debt=None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[Organization], str | None]:
    """A page of organizations and the cursor of the next page (None on the last page)."""
    page = organization_page(
        actor,
        q=q,
        status=status,
        pricing_model=pricing_model,
        low_balance=low_balance,
        has_debt=has_debt,
        limit=limit,
        cursor=cursor,
    )
    return page.items, page.next_cursor
