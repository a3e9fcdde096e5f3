"""The Customer app's list of organizations: one keyset page, searched and filtered, and
the owners of the organizations listed."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import String, and_, func, literal_column, select, tuple_, union_all
from sqlalchemy.orm import aliased

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
from tenants.organizations import listing_order


@dataclass(frozen=True)
class OrganizationPage:
    items: list[Organization]
    next_cursor: str | None
    previous_cursor: str | None


ORGANIZATION_CURSOR = paging.Cursor((paging.TEXT, paging.TEXT, paging.choice("next", "prev")))


def _encode_cursor(org: Organization, direction: str) -> str:
    return ORGANIZATION_CURSOR.encode(org.search_name, org.id, direction)


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
#   1. every match, sorted, if there are at most _FEW_MATCHES: on PostgreSQL the line-start
#      search (tenants/models/organizations.py, SEARCH_LINES_DDL) -- the matches at the
#      start of the name, billing name or owner email read from btree ranges that hold
#      search_name and id (up to _PREFIX_MATCH_CAP each, an index entry apiece), the others
#      from the trigram index of the rest of the text (up to _FEW_MATCHES): a name typed
#      from its start costs the same at 1,000 or 100,000 organizations however many share
#      it; elsewhere (SQLite) the matches of search_text;
#   2. the ordered walk of the next _WINDOW_PAGES pages' worth of rows, filtered: enough
#      when the term is common (one row in ten or more), whatever the number of rows;
#   3. every match through the trigram index of search_text, sorted, up to
#      _SEARCH_MATCH_CAP matches: about one row read per match, wherever they sit;
#   4. the whole ordered walk, filtered: a term with more matches than that, which the walk
#      meets every few dozen rows unless they all sit together late in the order.
# Each answers exactly the same page (tests/customers/test_list_results.py). The cap
# balances step 3 (cap rows) against step 4 (page size / share of matching rows) at about
# 100,000 organizations.
_FEW_MATCHES = 100
_WINDOW_PAGES = 10
_SEARCH_MATCH_CAP = 2000
_PREFIX_MATCH_CAP = 2000
# pg_trgm can only narrow a search that has a run of three letters or digits.
_TRIGRAM = re.compile(r"[^\W_]{3}")


def _ids_first(walk, direction: str):
    """``walk`` (organizations in the list's order, limited) as two steps: its ids first, from
    the name index alone — on PostgreSQL the index also carries days left and status
    (INCLUDE), so the "runs out within N days" filter skips a long run of names that do not
    match without reading their rows — then the page's rows by id."""
    first = walk.with_only_columns(Organization.id, Organization.search_name).subquery("first")
    return (
        select(Organization)
        .join(first, Organization.id == first.c.id)
        .order_by(*_order(first.c, direction))
    )


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


# search_text's second and third lines and the rest of it (PostgreSQL only, not mapped).
_LINE2 = literal_column("organizations.search_line2", String)
_LINE3 = literal_column("organizations.search_line3", String)
_REST = literal_column("organizations.search_rest", String)


def _prefix_pattern(text: str) -> str:
    return _contains_pattern(text)[1:]


def _line_start_matches(query, term: str, direction: str, wanted: int):
    """PostgreSQL: the first ``wanted`` rows of ``query`` whose search_text contains
    ``term`` (one line), as the union of its matches at the start of a line and elsewhere
    (see SEARCH_LINES_DDL); None when a source has more matches than its bound."""
    prefix, contains = _prefix_pattern(term), _contains_pattern(term)
    sources = (
        (Organization.search_name.like(prefix, escape="\\"), _PREFIX_MATCH_CAP),
        (_LINE2.like(prefix, escape="\\"), _PREFIX_MATCH_CAP),
        (_LINE3.like(prefix, escape="\\"), _PREFIX_MATCH_CAP),
        (_REST.like(contains, escape="\\"), _FEW_MATCHES),
    )
    parts = []
    for n, (matches, cap) in enumerate(sources):
        bounded = (
            query.with_only_columns(Organization.id, Organization.search_name)
            .where(matches)
            .limit(cap + 1)
            .subquery(f"source{n}")
        )
        # Each source's first ``wanted`` in the list's order hold the page's; the count of
        # its (bounded) matches says whether it was complete.
        parts.append(
            select(
                bounded.c.id,
                bounded.c.search_name,
                (func.count().over() > cap).label("too_many"),
            )
            .order_by(*_order(bounded.c, direction))
            .limit(wanted)
        )
    hits = union_all(*parts).cte("hits")
    too_many = select(func.coalesce(func.bool_or(hits.c.too_many), False)).scalar_subquery()
    found = select(hits.c.id, hits.c.search_name).distinct().subquery("found")
    first = select(found.c.id).order_by(*_order(found.c, direction)).limit(wanted)
    # One row with the flag alone when a bound is passed (no organization read for nothing),
    # else the flag beside each organization of the page.
    flag = select(too_many.label("too_many")).subquery("flag")
    result = db.session.execute(
        select(flag.c.too_many, Organization)
        .select_from(flag)
        .outerjoin(Organization, and_(~flag.c.too_many, Organization.id.in_(first)))
        .order_by(*_order(Organization, direction))
    ).all()
    if result[0][0]:
        return None
    return [org for _too_many, org in result if org is not None]


def _search_rows(
    query, term: str, direction: str, wanted: int, *, one_reseller: bool = True
) -> list[Organization]:
    """The first ``wanted`` organizations of ``query`` whose search_text contains ``term``."""
    pattern = _contains_pattern(term)
    matches = Organization.search_text.like(pattern, escape="\\")
    if _TRIGRAM.search(term):
        # The prefix ranges start with reseller_id: across every reseller (platform staff)
        # they would be whole-index scans, so that list keeps the trigram path.
        if one_reseller and db.engine.dialect.name == "postgresql":
            rows = _line_start_matches(query, term, direction, wanted)
        else:
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
    _search_rows). ``low_balance`` and ``has_debt`` read the denormalized
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
        rows = _search_rows(
            query,
            search_key(checks["q"]),
            direction,
            page_size + 1,
            one_reseller=not (actor is SYSTEM or actor.is_platform),
        )
    else:
        walk = query.order_by(*_order(Organization, direction)).limit(page_size + 1)
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
    matches = Organization.search_text.like(_contains_pattern(term), escape="\\") if term else None
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
