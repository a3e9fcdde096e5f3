"""The Customer app's list of organizations: one keyset page, searched and filtered, and
the owners of the organizations listed."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, tuple_

from tenants.access.actors import SYSTEM, Actor
from tenants.access.policy import Permission, require
from tenants.access.scoping import organizations_query
from tenants.core import paging
from tenants.core.checks import collect_field_errors
from tenants.core.errors import ValidationFailed
from tenants.core.extensions import db
from tenants.core.validation import clean_text
from tenants.models import Organization, OrganizationStatus, PricingModel
from tenants.models.organizations import search_key
from tenants.organizations import listing_order, listing_search


@dataclass(frozen=True)
class OrganizationPage:
    items: list[Organization]
    next_cursor: str | None
    previous_cursor: str | None


ORGANIZATION_CURSOR = paging.Cursor((paging.TEXT, paging.TEXT, paging.choice("next", "prev")))


def _encode_cursor(org: Organization, direction: str) -> str:
    return ORGANIZATION_CURSOR.encode(org.search_name, org.id, direction)


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


def _ids_first(walk, direction: str):
    """``walk`` (organizations in the list's order, limited) as two steps: its ids first, from
    the name index alone — on PostgreSQL the index also carries days left and status
    (INCLUDE), so the "runs out within N days" filter skips a long run of names that do not
    match without reading their rows — then the page's rows by id."""
    first = walk.with_only_columns(Organization.id, Organization.search_name).subquery("first")
    return (
        select(Organization)
        .join(first, Organization.id == first.c.id)
        .order_by(*listing_search.name_order(first.c, direction))
    )


def _filtered(query, checks: dict):
    """``query`` narrowed by the list's checked filters (status, pricing model, low
    balance, debt)."""
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
    return listing_order.runs_out_within(query, checks["runs_out_within"])


def organization_page(
    actor: Actor,
    *,
    q: str | None = None,
    status=None,
    pricing_model=None,
    low_balance=None,
    has_debt=None,
    runs_out_within=None,
    sort=None,
    limit: int = 50,
    cursor: str | None = None,
) -> OrganizationPage:
    """One page of the organizations the actor may see, in name order, with both cursors.

    Keyset pagination on (search_name, id): each page is an index range scan however deep
    it is. ``q`` matches name, billing name or the owner's email, case-insensitively, through
    the denormalized ``search_text`` column (a trigram index on PostgreSQL; see
    listing_search.search_rows). ``low_balance`` and ``has_debt`` read the denormalized
    Organization.total_credits / debt columns the ledger keeps up to date (low_balance
    through the stored flag computed from them). ``sort``: ``name`` (the default) or
    ``days_left``, and ``runs_out_within`` read the stored forecast (listing_order).
    """
    require(actor, Permission.VIEW_ORGANIZATION)
    checks = collect_field_errors(
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
            "runs_out_within": lambda: listing_order.clean_runs_out_within(runs_out_within),
            "sort": lambda: listing_order.clean_sort(sort),
            "limit": lambda: _limit(limit),
            "cursor": lambda: _cursor_of(sort).decode(cursor) if cursor else None,
        }
    )
    query = _filtered(organizations_query(actor), checks)
    if checks["sort"] == listing_order.FORECAST_ORDER:
        return _forecast_page(query, checks)
    key = tuple_(Organization.search_name, Organization.id)
    direction = "next"
    if checks["cursor"]:
        name, org_id, direction = checks["cursor"]
        query = query.where(
            key < tuple_(name, org_id) if direction == "prev" else key > tuple_(name, org_id)
        )
    page_size = checks["limit"]
    if checks["q"]:
        rows = listing_search.search_rows(
            query,
            search_key(checks["q"]),
            direction,
            page_size + 1,
            one_reseller=not (actor is SYSTEM or actor.is_platform),
        )
    else:
        walk = query.order_by(*listing_search.name_order(Organization, direction)).limit(
            page_size + 1
        )
        if checks["runs_out_within"] is not None:
            walk = _ids_first(walk, direction)
        rows = list(db.session.scalars(walk))
    return _page(rows, page_size, direction, checks["cursor"] is not None, _encode_cursor)


def _cursor_of(sort) -> paging.Cursor:
    if sort == listing_order.FORECAST_ORDER:
        return listing_order.FORECAST_CURSOR
    return ORGANIZATION_CURSOR


def _forecast_page(query, checks: dict) -> OrganizationPage:
    """A page in the forecast order (soonest to run out first); a search filters it."""
    term = checks["q"] and search_key(checks["q"])
    matches = (
        Organization.search_text.like(listing_search.contains_pattern(term), escape="\\")
        if term
        else None
    )
    rows, direction = listing_order.forecast_rows(
        query, checks["cursor"], checks["limit"] + 1, matches
    )
    return _page(
        rows, checks["limit"], direction, checks["cursor"] is not None, listing_order.encode_cursor
    )


def _page(rows: list, size: int, direction: str, after_cursor: bool, encode) -> OrganizationPage:
    more = len(rows) > size
    rows = rows[:size]
    if direction == "prev":
        rows.reverse()
        more_before, more_after = more, True
    else:
        more_before, more_after = after_cursor, more
    return OrganizationPage(
        items=rows,
        next_cursor=encode(rows[-1], "next") if rows and more_after else None,
        previous_cursor=encode(rows[0], "prev") if rows and more_before else None,
    )


def list_organizations(
    actor: Actor,
    *,
    q: str | None = None,
    status=None,
    pricing_model=None,
    low_balance=None,
    has_debt=None,
    runs_out_within=None,
    sort=None,
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
        runs_out_within=runs_out_within,
        sort=sort,
        limit=limit,
        cursor=cursor,
    )
    return page.items, page.next_cursor
