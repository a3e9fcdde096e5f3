"""Which currencies of a reseller's price list its customers pay in: a currency in use cannot
leave the price list (its organizations could no longer buy credits or be charged)."""

from __future__ import annotations

from babel.lists import format_list
from flask_babel import format_decimal as number
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from sqlalchemy import func, select

from tenants.access import scoping
from tenants.access.actors import Actor
from tenants.core.errors import CurrencyInUse
from tenants.core.extensions import db
from tenants.models import Organization, PriceListEntry, Reseller

NAMED_IN_REFUSAL = 10  # organizations named in the message, per currency
LISTED_IN_REFUSAL = 100  # organizations the refusal carries for a page to link, per currency


def organizations_by_currency(actor: Actor, reseller: Reseller) -> dict[str, int]:
    """How many of the reseller's organizations (deleted ones left out) pay in each currency."""
    rows = db.session.execute(
        scoping.organizations_query(actor)
        .where(Organization.reseller_id == reseller.id)
        .with_only_columns(Organization.currency, func.count())
        .group_by(Organization.currency)
    )
    return {row.currency: row.count for row in rows}


def refuse_removing_used_currencies(actor: Actor, reseller: Reseller, kept: set[str]) -> None:
    """CurrencyInUse, naming the organizations, when a currency now on the price list but not
    in ``kept`` is one the reseller's organizations pay in."""
    listed = db.session.scalars(
        select(PriceListEntry.currency).where(PriceListEntry.reseller_id == reseller.id)
    )
    removed = set(listed) - kept
    counts = {c: n for c, n in organizations_by_currency(actor, reseller).items() if c in removed}
    if not counts:
        return
    sentences, summaries, organizations = [], [], []
    for currency, count in sorted(counts.items()):
        rows = db.session.execute(
            scoping.organizations_query(actor)
            .where(Organization.reseller_id == reseller.id, Organization.currency == currency)
            .with_only_columns(Organization.id, Organization.name)
            .order_by(Organization.search_name, Organization.id)
            .limit(LISTED_IN_REFUSAL)
        ).all()
        organizations += [(org_id, name, currency) for org_id, name in rows]
        names = [name for _id, name in rows[:NAMED_IN_REFUSAL]]
        if count > len(names):
            more = count - len(names)
            names.append(ngettext("%(count)s more", "%(count)s more", more, count=number(more)))
        sentences.append(
            ngettext(
                "%(currency)s is the currency of %(count)s organization: %(names)s.",
                "%(currency)s is the currency of %(count)s organizations: %(names)s.",
                count,
                currency=currency,
                count=number(count),
                names=format_list(names, locale=get_locale()),
            )
        )
        summaries.append(
            ngettext(
                "%(currency)s is the currency of %(count)s organization.",
                "%(currency)s is the currency of %(count)s organizations.",
                count,
                currency=currency,
                count=number(count),
            )
        )
    advice = _(
        "Without it on the price list they can no longer buy credits or be charged for "
        "usage: change their currency, or close them, before removing it."
    )
    raise CurrencyInUse(
        " ".join([*sentences, advice]),
        summary=" ".join([*summaries, advice]),
        organizations=organizations,
    )
