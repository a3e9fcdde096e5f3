"""The Customer app list's filters and search answer what a plain filter over the rows says.

A few hundred organizations are seeded in bulk; every page of every filter and search,
forwards and backwards, must equal the reseller's organizations in (search_name, id) order
filtered in Python -- whichever way the service finds them (the ordered walk, the trigram
index, or the walk after too many matches: the bounds are shrunk so each is taken).
"""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from sqlalchemy import insert, select, update

from tenants.access.actors import Actor
from tenants.core.extensions import db
from tenants.core.types import new_id, utcnow
from tenants.jobs.outbox import commit
from tenants.models import Organization, OrganizationStatus, PricingModel, ResellerRole
from tenants.models.organizations import search_key, search_text
from tenants.organizations import listing, listing_search

WORDS = "acme nova blue orbit delta zen atlas pixel".split()  # noqa: SIM905


def _rows(reseller_id: str, count: int, tag: str) -> list[dict]:
    now = utcnow()
    rows = []
    for i in range(count):
        name = f"{WORDS[i % 8].title()} {WORDS[(i // 5) % 8]} {i:04d}"
        if i % 37 == 0:
            name = "Zen orbit 50%_off"  # the same name more than once: id breaks the tie
        billing = f"{name} Holdings" if i % 3 == 0 else None
        if i % 43 == 0:
            billing = "Acme\nOrbit zen annex"  # more than three lines in search_text
        email = f"owner{i}-{tag}@example.com"
        rows.append(
            {
                "id": new_id("org"),
                "reseller_id": reseller_id,
                "name": name,
                "search_name": search_key(name),
                "search_text": search_text(name, billing, email),
                "owner_email": email,
                "status": ("deleted" if i % 41 == 0 else "suspended" if i % 7 == 0 else "active"),
                "country": "ES",
                "currency": "EUR",
                "timezone": "Europe/Madrid",
                "pricing_model": "postpaid" if i % 4 == 0 else "prepaid",
                "billing_type": "company",
                "billing_name": billing,
                # Around the threshold, on it, and far above it.
                "total_credits": (i * 13) % 120,
                # Days left from 0 to many, and none (no usage) for one in five.
                "forecast_usage_7d": 0 if i % 5 == 0 else (i * 29) % 70 + 1,
                "low_balance_threshold": 0 if i % 11 == 0 else 50,
                "debt": Decimal(i % 3) if i % 4 == 0 else Decimal(0),
                "credit_limit": 0,
                "individual_user_credits": False,
                "low_balance_alert": False,
                "auto_top_up_enabled": False,
                "auto_top_up_below": 0,
                "auto_top_up_credits": 0,
                "created_at": now,
                "updated_at": now,
            }
        )
    return rows


@pytest.fixture
def seeded(create_reseller):
    ours, theirs = create_reseller(name="Ours"), create_reseller(name="Theirs")
    db.session.execute(insert(Organization), _rows(ours.id, 240, "a"))
    db.session.execute(insert(Organization), _rows(theirs.id, 40, "b"))
    commit()
    return Actor(reseller_id=ours.id, reseller_role=ResellerRole.ADMIN)


def _is_low(org: Organization) -> bool:
    return org.pricing_model == PricingModel.PREPAID and (
        org.total_credits <= org.low_balance_threshold
    )


def _expected(actor: Actor, **kwargs) -> list[str]:
    everything = db.session.scalars(
        select(Organization)
        .where(
            Organization.reseller_id == actor.reseller_id,
            Organization.status != OrganizationStatus.DELETED,
        )
        .order_by(Organization.search_name, Organization.id)
    ).all()
    q = search_key(kwargs.get("q"))
    wanted = []
    for org in everything:
        if q and q not in org.search_text:
            continue
        if "status" in kwargs and org.status != kwargs["status"]:
            continue
        if "pricing_model" in kwargs and org.pricing_model != kwargs["pricing_model"]:
            continue
        if "low_balance" in kwargs and _is_low(org) != kwargs["low_balance"]:
            continue
        if "has_debt" in kwargs and (org.debt > 0) != kwargs["has_debt"]:
            continue
        days = org.forecast_days
        if "runs_out_within" in kwargs and (days is None or days > kwargs["runs_out_within"]):
            continue
        wanted.append(org.id)
    return wanted


def _forwards(actor: Actor, limit: int, **kwargs) -> tuple[list[str], str | None]:
    seen, cursor, last = [], None, None
    while True:
        page = listing.organization_page(actor, limit=limit, cursor=cursor, **kwargs)
        seen += [org.id for org in page.items]
        db.session.rollback()
        if page.items:
            last = page
        if page.next_cursor is None:
            return seen, last.previous_cursor if last else None
        cursor = page.next_cursor


def _backwards(actor: Actor, limit: int, cursor: str | None, **kwargs) -> list[str]:
    seen = []
    while cursor is not None:
        page = listing.organization_page(actor, limit=limit, cursor=cursor, **kwargs)
        seen = [org.id for org in page.items] + seen
        db.session.rollback()
        cursor = page.previous_cursor
    return seen


FILTERS = [
    {},
    {"low_balance": True},
    {"low_balance": False},
    {"pricing_model": "prepaid", "low_balance": True},
    {"low_balance": True, "status": "suspended"},
    {"has_debt": True, "status": "suspended"},
    {"has_debt": False, "pricing_model": "postpaid"},
    {"runs_out_within": 3},
    {"runs_out_within": 30, "status": "active"},
    {"runs_out_within": 3650},
]
SEARCHES = [
    {"q": "orbit zen"},  # names that start with it: all together in the order
    {"q": "rbit zen"},  # from a line's second character
    {"q": "zen annex"},  # inside the fourth line
    {"q": "holdings"},  # one row in three
    {"q": "Example.COM"},  # every row
    {"q": "0007"},  # rare
    {"q": "owner12-"},  # the owner's email
    {"q": "ze"},  # too short for trigrams
    {"q": "50%_off"},  # LIKE's wildcards are plain characters
    {"q": "no such organization"},
    {"q": "zen", "low_balance": True},
    {"q": "orbit", "status": "active", "has_debt": False},
]
# (few matches, window pages, match cap, line-start cap): the defaults, then bounds that
# make each step of _search_rows answer: every match sorted (on PostgreSQL the line-start
# search: its prefix ranges and the rest's trigram index), the window walk, the trigram path
# after the window, the whole walk; then the line-start search given up because its rest
# or one of its prefix ranges has too many matches.
BOUNDS = [
    (100, 10, 2000, 2000),
    (10**6, 0, 0, 10**6),
    (0, 1000, 0, 0),
    (0, 0, 10**6, 0),
    (0, 0, 3, 0),
    (1, 0, 0, 10**6),
    (10**6, 0, 0, 2),
]


def _statements_of(call) -> tuple[object, list[str]]:
    """What ``call()`` answers, and the statements it ran."""
    from sqlalchemy import event

    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        return call(), statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def _bound(monkeypatch, few: int, window: int, cap: int, line_start_cap: int) -> None:
    monkeypatch.setattr(listing_search, "_FEW_MATCHES", few)
    monkeypatch.setattr(listing_search, "_WINDOW_PAGES", window)
    monkeypatch.setattr(listing_search, "_SEARCH_MATCH_CAP", cap)
    monkeypatch.setattr(listing_search, "_PREFIX_MATCH_CAP", line_start_cap)


def _check(actor: Actor, kwargs: dict, limits: tuple[int, ...]) -> None:
    expected = _expected(actor, **kwargs)
    for limit in limits:
        forwards, last_prev = _forwards(actor, limit, **kwargs)
        assert forwards == expected, (kwargs, limit)
        if len(expected) > limit:
            # From the last page back to the first, through the "previous" cursors.
            tail = forwards[-(len(expected) % limit or limit) :]
            assert _backwards(actor, limit, last_prev, **kwargs) + tail == expected


def test_every_filtered_page_is_the_plain_filter_in_name_order(seeded):
    for kwargs in FILTERS:
        _check(seeded, kwargs, (50, 23))


def test_every_search_page_is_the_plain_filter_in_name_order(seeded, monkeypatch):
    for bounds in BOUNDS:
        _bound(monkeypatch, *bounds)
        for kwargs in SEARCHES:
            _check(seeded, kwargs, (50, 23) if bounds == BOUNDS[0] else (23,))


def test_filters_from_a_cursor_in_the_middle_of_a_cluster(seeded, monkeypatch):
    """A page that starts inside the run of "orbit zen" names, on every path."""
    expected = _expected(seeded, q="orbit zen")
    assert len(expected) > 4
    for bounds in BOUNDS:
        _bound(monkeypatch, *bounds)
        first = listing.organization_page(seeded, q="orbit zen", limit=2)
        second = listing.organization_page(seeded, q="orbit zen", limit=2, cursor=first.next_cursor)
        assert [o.id for o in first.items + second.items] == expected[:4]
        back = listing.organization_page(
            seeded, q="orbit zen", limit=2, cursor=second.previous_cursor
        )
        assert [o.id for o in back.items] == expected[:2]
        db.session.rollback()


def test_low_balance_flag_follows_credits_threshold_and_pricing_model(seeded):
    """The stored flag changes with each column it is computed from, however they change."""
    orgs = db.session.scalars(
        select(Organization).where(Organization.reseller_id == seeded.reseller_id)
    ).all()
    prepaid = [o for o in orgs if o.pricing_model == PricingModel.PREPAID]
    # As the ledger does it: a Core UPDATE of total_credits.
    for org, delta in zip(prepaid[:40], itertools.cycle((-60, 60, -5, 5)), strict=False):
        db.session.execute(
            update(Organization)
            .where(Organization.id == org.id)
            .values(total_credits=Organization.total_credits + delta)
            .execution_options(synchronize_session=False)
        )
    # Through the ORM: threshold and pricing model.
    for org in prepaid[40:60]:
        org.low_balance_threshold = 200
    for org in orgs[60:80]:
        org.pricing_model = (
            PricingModel.POSTPAID
            if org.pricing_model == PricingModel.PREPAID
            else PricingModel.PREPAID
        )
    commit()
    db.session.expire_all()
    orgs = db.session.scalars(
        select(Organization).where(Organization.reseller_id == seeded.reseller_id)
    ).all()
    assert any(o.low_balance for o in orgs) and not all(o.low_balance for o in orgs)
    assert all(o.low_balance == _is_low(o) for o in orgs)
    for kwargs in ({"low_balance": True}, {"low_balance": False}):
        assert _forwards(seeded, 50, **kwargs)[0] == _expected(seeded, **kwargs)


@pytest.mark.postgres_only
def test_names_typed_from_their_start_are_found_in_one_statement(seeded, monkeypatch):
    """More matches than the trigram path's bound (100 in production; one fewer than the
    matches here) that mostly start a name, billing name or email: the line-start search
    reads those from its prefix ranges and answers in one statement, where the trigram path
    gave up and walked (B2)."""

    for term in ("orbit zen", "owner1"):
        expected = _expected(seeded, q=term)
        assert len(expected) > 3
        _bound(monkeypatch, len(expected) - 1, 0, 2000, 2000)
        page, statements = _statements_of(
            lambda term=term: listing.organization_page(seeded, q=term, limit=3)
        )
        assert [o.id for o in page.items] == expected[:3]
        assert len(statements) == 1, (term, statements)
        db.session.rollback()


@pytest.mark.postgres_only
def test_names_sharing_their_start_beyond_the_prefix_bound_are_one_ordered_range(
    seeded, monkeypatch
):
    """More names start with the term than a prefix range's bound: where the database sorts
    text by code point (the CI's: C.UTF-8), the names' range is read in the list's order and
    stops at the page, so the line-start search still answers in one statement, whatever
    the number of such names (B2's "orbit zen"); the range ends where the term's last
    character does (ñ, ú)."""

    from tenants.core.database import code_point_order

    # Elsewhere (another collation) the names' range is bounded and counted like the others:
    # too many here, the search gives up the line-start path (three statements), same page.
    ordered = code_point_order(db.session.connection())
    names = ["Ñandú 01", "Ñandú 02", "ñandú 03", "Ñandú 04", "Ñandúa", "Ñandv", "Ñandu", "Ñandû"]
    rows = _rows(seeded.reseller_id, len(names), "n")
    for row, name in zip(rows, names, strict=True):
        row.update(
            name=name,
            search_name=search_key(name),
            search_text=search_text(name, None, row["owner_email"]),
            status="active",
        )
    db.session.execute(insert(Organization), rows)
    commit()
    expected = _expected(seeded, q="ñandú")
    assert len(expected) == 5
    _bound(monkeypatch, 100, 0, 2000, 2)
    page, statements = _statements_of(lambda: listing.organization_page(seeded, q="Ñandú", limit=3))
    assert [o.id for o in page.items] == expected[:3]
    assert len(statements) == (1 if ordered else 3), statements
    db.session.rollback()
    _check(seeded, {"q": "ñandú"}, (3, 2))


@pytest.mark.postgres_only
def test_billing_names_after_a_full_page_of_names_are_not_read(create_reseller, monkeypatch):
    """Where the names that start with the term fill the page, a billing name (or email)
    that starts with it too but belongs to an organization sorting after the last of them
    cannot be on the page: the line-start search keeps only the others, so their number
    does not count against the prefix bound (B2's "orbit zen": 1,190 billing names read and
    sorted for a page of 51). Here three such billing names against a bound of two: one
    statement, where the search gave up its line-start path before. Every page, forwards
    and backwards, is the plain filter's."""

    from tenants.core.database import code_point_order

    reseller = create_reseller(name="Bound")
    actor = Actor(reseller_id=reseller.id, reseller_role=ResellerRole.ADMIN)
    names = [(f"Orbit zen {n:02d}", None) for n in range(1, 7)]
    names += [("Aardvark", "Orbit zen first")]  # sorts before the page's last name
    names += [(f"Zulu {n}", "Orbit zen last") for n in range(1, 4)]  # after it
    names += [("Orbit zen 03", "Orbit zen tie")]  # the same name as the page's last
    rows = _rows(reseller.id, len(names), "bound")
    for row, (name, billing) in zip(rows, names, strict=True):
        row.update(
            name=name,
            billing_name=billing,
            search_name=search_key(name),
            search_text=search_text(name, billing, row["owner_email"]),
            status="active",
        )
    db.session.execute(insert(Organization), rows)
    commit()
    expected = _expected(actor, q="orbit zen")
    assert len(expected) == len(names)
    _bound(monkeypatch, 100, 0, 2000, 2)
    page, statements = _statements_of(
        lambda: listing.organization_page(actor, q="orbit zen", limit=2)
    )
    assert [o.id for o in page.items] == expected[:2]
    assert len(statements) == (1 if code_point_order(db.session.connection()) else 3)
    db.session.rollback()
    _check(actor, {"q": "orbit zen"}, (2, 3, 4))
