"""Every template filter, global and context processor, registered by ``register(app)``.

Pages and partials reach Python only through what is registered here; a blueprint registers
none of its own.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from math import ceil
from zoneinfo import ZoneInfo

import phonenumbers
from babel.dates import format_datetime as babel_format_datetime
from babel.numbers import format_currency as babel_format_currency
from flask import Flask, current_app, has_request_context, session
from flask_babel import format_currency, format_date, format_datetime, format_decimal, get_locale
from flask_babel import gettext as _
from flask_login import current_user

from tenants.access.policy import (
    Permission,
    WhileActing,
    can,
    is_view_only,
    refused_while_acting,
)
from tenants.billing import periods
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.core.validation import mask_iban
from tenants.credits import movements
from tenants.models import Member, Organization, PricingModel, User
from tenants.organizations.sections import SECTION_KEYS, SECTIONS
from tenants.people import auth, two_factor
from tenants.support import sessions as support
from tenants.web.forms import ReturnForm, StartForm
from tenants.web.session import CONTEXT_KEY, current_actor, home_url


def register(app: Flask) -> None:
    """Give the app's templates every filter, global and context processor below."""
    app.jinja_env.filters.update(
        money=money,
        credits=credits,
        decimal1=decimal1,
        decimal2=decimal2,
        rate=rate,
        local_datetime=local_datetime,
        datetime_in=datetime_in,
        local_date=local_date,
        local_date_short=local_date,
        phone_number=phone_number,
        entry_type=movements.entry_type_label,
        unit_price=unit_price,
        invoice_period=invoice_period,
        masked_iban=mask_iban,
    )
    app.jinja_env.globals.update(
        country_name=country_name,
        visible_sections=visible_sections,
        organization_sections=SECTIONS,
        account_label=movements.account_label,
        recorded_apart=movements.recorded_apart,
        staff_two_factor_required=two_factor.staff_two_factor_required,
        login_as_candidates=login_as_candidates,
        login_as_form=login_as_form,
        support_sessions_of=support_sessions_of,
    )
    app.context_processor(session_context)
    app.context_processor(support_banner)
    app.context_processor(view_endpoints)


# -- filters -------------------------------------------------------------------------------


def money(amount: Decimal | None, currency: str) -> str:
    if amount is None:
        return ""
    return format_currency(amount, currency)


def credits(value: int | None) -> str:
    return format_decimal(value or 0)


def decimal1(value: Decimal | None) -> str:
    """A rate with one decimal in the reader's language: 120.4, 120,4."""
    return format_decimal(value or 0, "#,##0.0")


def decimal2(value: Decimal | None) -> str:
    """A percent or rate with two decimals in the reader's language: 42.59, 42,59."""
    return "" if value is None else format_decimal(value, "#,##0.00")


def rate(value: Decimal | None) -> str:
    """A conversion rate with its decimals (2 to 4) in the reader's language: 0.92, 0,9215."""
    return "" if value is None else format_decimal(value, "#,##0.00##")


def local_datetime(value: datetime | None, fmt: str = "medium") -> str:
    return format_datetime(value, fmt) if value else ""


def datetime_in(value: datetime | None, zone: str | None, fmt: str = "medium") -> str:
    """A time in a given organization's timezone (lists that mix organizations)."""
    if value is None:
        return ""
    tzinfo = ZoneInfo(zone) if zone else ZoneInfo("UTC")
    return babel_format_datetime(value, fmt, tzinfo=tzinfo, locale=get_locale())


def local_date(value: date | datetime | None) -> str:
    """A date in the shown organization's timezone and the reader's language."""
    return format_date(value, "medium") if value else ""


def phone_number(value: str | None) -> str:
    """An E.164 number (+34600000001) as people write it (+34 600 00 00 01)."""
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return value
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def unit_price(value, currency: str) -> str:
    """A unit price with all its digits (€0.045), where money() would round to cents."""
    if value is None:
        return ""
    return babel_format_currency(
        value.normalize(), currency, locale=get_locale(), decimal_quantization=False
    )


def invoice_period(period: str | None) -> str:
    """A monthly invoice's period ("2026-10") as the month it covers, in the reader's
    language; receipts have none."""
    return periods.month_name(period, get_locale())


# -- globals -------------------------------------------------------------------------------


def country_name(code: str | None) -> str:
    if not code:
        return ""
    return get_locale().territories.get(code, code)


def visible_sections(org: Organization) -> tuple[str, ...]:
    """The section tabs the current actor may open for this organization."""
    actor = current_actor()
    if actor is None:
        return ()
    # A prepaid organization's Payment tab is the credits page, where every member manages
    # their own credits; a postpaid one's shows the organization's debt.
    prepaid = org.pricing_model == PricingModel.PREPAID
    needs = {
        "payment": Permission.VIEW_ORGANIZATION if prepaid else Permission.MANAGE_CREDITS,
        "settings": Permission.EDIT_ORGANIZATION_SETTINGS,
        "invoices": Permission.MANAGE_CREDITS,
        "audit": Permission.VIEW_AUDIT,
        "messages": Permission.SEND_MESSAGES,
        "campaigns": Permission.MANAGE_CAMPAIGNS,
    }
    return tuple(s for s in SECTION_KEYS if s not in needs or can(actor, needs[s]))


# -- login-as: the start form, the organization's sessions, the banner ----------------------


def member_label(member: Member) -> str:
    roles = {"owner": _("Owner"), "admin": _("Admin"), "member": _("Member")}
    return f"{member.user.name} <{member.user.email}> · {roles.get(member.role.value, '')}"


def login_as_candidates(org: Organization) -> list[Member]:
    """Members the current actor may act as in this organization ([] when it may not)."""
    actor = current_actor()
    if actor is None or not can(actor, Permission.LOGIN_AS):
        return []
    return support.candidates(actor, org)


def login_as_form(org: Organization, member_id: str | None = None) -> StartForm:
    form = StartForm(formdata=None)
    form.member.choices = [(m.id, member_label(m)) for m in login_as_candidates(org)]
    if member_id:
        form.member.data = member_id
    return form


def support_sessions_of(org: Organization) -> list:
    """The organization's latest support sessions for its Audit tab."""
    actor = current_actor()
    if actor is None or not can(actor, Permission.VIEW_AUDIT):
        return []
    return support.support_log(actor, org, limit=20)


# -- context processors ----------------------------------------------------------------------


def session_context() -> dict:
    """Who is logged in, where they may switch to, the language and the home link."""
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        return {"languages": languages, "current_locale": str(get_locale())}
    actor = current_actor() if current_user.is_authenticated else None
    switching = actor and not refused_while_acting(actor, WhileActing.SWITCH_CONTEXT)
    contexts = auth.available_contexts(current_user) if switching else []
    return {
        "actor": actor,
        "contexts": contexts,
        "current_context": session.get(CONTEXT_KEY),
        "languages": languages,
        "current_locale": str(get_locale()),
        "home_url": home_url(actor),
    }


def support_banner() -> dict:
    """The banner of an open support session: who acts as whom, and for how long still."""
    if not has_request_context() or not current_user.is_authenticated:
        return {"support_banner": None}
    actor = current_actor()
    if actor is None or not actor.support_session_id:
        return {"support_banner": None}
    row = support.open_session(actor.support_session_id, current_user.id)
    if row is None:
        return {"support_banner": None}
    member_user = db.session.get(User, actor.user_id)
    org = db.session.get(Organization, row.organization_id)
    seconds = (row.expires_at - utcnow()).total_seconds()
    return {
        "support_banner": {
            "member": member_user.name,
            "organization": org.name,
            "staff": current_user.name,
            "minutes": max(1, ceil(seconds / 60)),
            "reason": row.reason,
            "view_only": is_view_only(actor),
            "form": ReturnForm(formdata=None),
        }
    }


def view_endpoints() -> dict:
    """The registered endpoints: the reseller settings tabs show a page only once it exists."""
    return {"url_endpoints": current_app.view_functions.keys()}
