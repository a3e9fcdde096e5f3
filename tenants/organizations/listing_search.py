"""The Customer app list's search: the first organizations, in the list's order, whose
search text contains a term (tenants.organizations.listing)."""

from __future__ import annotations

import re

from sqlalchemy import String, and_, false, func, literal_column, or_, select, union_all
from sqlalchemy.orm import aliased

from tenants.core.database import code_point_order
from tenants.core.extensions import db
from tenants.models import Organization


def contains_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def name_order(columns, direction: str) -> tuple:
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
#      it (where text sorts by code point, the names' range is read in the list's order
#      and only up to the page, unbounded, and when it fills the page the other sources
#      keep only what sorts before its last name); elsewhere (SQLite) the matches of
#      search_text;
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


def _all_matches(query, matches, direction: str, wanted: int, cap: int):
    """The first ``wanted`` rows of ``query`` filtered by ``matches``, found by sorting every
    match (the trigram index on PostgreSQL); None when there are more than ``cap``."""
    found = (
        query.with_only_columns(Organization.id, Organization.search_name)
        .where(matches)
        .limit(cap + 1)
        .cte("found")
    )
    first = select(found.c.id).order_by(*name_order(found.c, direction)).limit(wanted)
    counted = select(func.count()).select_from(found).scalar_subquery()
    result = db.session.execute(
        select(Organization, counted)
        .where(Organization.id.in_(first))
        .order_by(*name_order(Organization, direction))
    ).all()
    if result and result[0][1] > cap:
        return None
    return [org for org, _count in result]


# search_text's second and third lines and the rest of it (PostgreSQL only, not mapped).
_LINE2 = literal_column("organizations.search_line2", String)
_LINE3 = literal_column("organizations.search_line3", String)
_REST = literal_column("organizations.search_rest", String)


def _prefix_pattern(text: str) -> str:
    return contains_pattern(text)[1:]


def _name_prefix_range(query, term: str, starts, direction: str, wanted: int):
    """The first ``wanted`` rows of ``query`` whose search_name starts with ``term``, in the
    list's order, read from the list's own index (reseller, search_name, id): the LIKE's
    range written out, [term, term with its last character's successor), which is exactly
    the names that start with it where text sorts by code point (code_point_order), with
    ``starts`` (the LIKE itself) kept as the filter."""
    ranged = Organization.search_name >= term
    if ord(term[-1]) < 0x10FFFF:
        ranged = and_(ranged, Organization.search_name < term[:-1] + chr(ord(term[-1]) + 1))
    return (
        query.with_only_columns(
            Organization.id, Organization.search_name, false().label("too_many")
        )
        .where(ranged, starts)
        .order_by(*name_order(Organization, direction))
        .limit(wanted)
    )


def _line_start_matches(query, term: str, direction: str, wanted: int):
    """PostgreSQL: the first ``wanted`` rows of ``query`` whose search_text contains
    ``term`` (one line), as the union of its matches at the start of a line and elsewhere
    (see SEARCH_LINES_DDL); None when a source has more matches than its bound."""
    prefix, contains = _prefix_pattern(term), contains_pattern(term)
    sources = (
        (Organization.search_name.like(prefix, escape="\\"), _PREFIX_MATCH_CAP),
        (_LINE2.like(prefix, escape="\\"), _PREFIX_MATCH_CAP),
        (_LINE3.like(prefix, escape="\\"), _PREFIX_MATCH_CAP),
        (_REST.like(contains, escape="\\"), _FEW_MATCHES),
    )
    parts, beyond = [], None
    if code_point_order(db.session.connection()):
        # The names that start with the term are one range of the list's own index: its
        # first ``wanted`` in order are read and no more, however many share the start.
        names = _name_prefix_range(query, term, sources[0][0], direction, wanted).cte("names")
        parts.append(select(names))
        sources = sources[1:]
        # When they fill the page, a match of another source that sorts after the last of
        # them cannot be on it: the other sources keep (and count, and sort) only the
        # others, so a common start of billing names costs what the page holds.
        last = func.max if direction != "prev" else func.min
        bound = select(last(names.c.search_name)).having(func.count() >= wanted).scalar_subquery()
        within = (
            Organization.search_name <= bound
            if direction != "prev"
            else Organization.search_name >= bound
        )
        beyond = or_(bound.is_(None), within)
    for n, (matches, cap) in enumerate(sources):
        bounded = (
            query.with_only_columns(Organization.id, Organization.search_name)
            .where(matches, *(() if beyond is None else (beyond,)))
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
            .order_by(*name_order(bounded.c, direction))
            .limit(wanted)
        )
    hits = union_all(*parts).cte("hits")
    too_many = select(func.coalesce(func.bool_or(hits.c.too_many), False)).scalar_subquery()
    found = select(hits.c.id, hits.c.search_name).distinct().subquery("found")
    first = select(found.c.id).order_by(*name_order(found.c, direction)).limit(wanted)
    # One row with the flag alone when a bound is passed (no organization read for nothing),
    # else the flag beside each organization of the page.
    flag = select(too_many.label("too_many")).subquery("flag")
    result = db.session.execute(
        select(flag.c.too_many, Organization)
        .select_from(flag)
        .outerjoin(Organization, and_(~flag.c.too_many, Organization.id.in_(first)))
        .order_by(*name_order(Organization, direction))
    ).all()
    if result[0][0]:
        return None
    return [org for _too_many, org in result if org is not None]


def search_rows(
    query, term: str, direction: str, wanted: int, *, one_reseller: bool = True
) -> list[Organization]:
    """The first ``wanted`` organizations of ``query`` whose search_text contains ``term``."""
    pattern = contains_pattern(term)
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
            query.order_by(*name_order(Organization, direction))
            .limit(wanted * _WINDOW_PAGES)
            .subquery("walked")
        )
        rows = list(
            db.session.scalars(
                select(aliased(Organization, walked))
                .where(walked.c.search_text.like(pattern, escape="\\"))
                .order_by(*name_order(walked.c, direction))
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
            query.where(matches).order_by(*name_order(Organization, direction)).limit(wanted)
        )
    )
