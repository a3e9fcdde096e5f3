"""The forecast (SPEC §4): how much an organization uses a day and how many days its credits
(prepaid) or its credit limit (postpaid) last at that rate, kept incrementally.

Definitions, in the organization's timezone:

- the *window* is the last 7 days, today included (today and the 6 days before it);
- *daily usage* = credits used in the window / 7 (usage, messages sent, less the refunds
  of failed messages), shown with one decimal;
- *days left*, whole days rounded down: prepaid, available credits (total credits less
  those reserved for scheduled campaign runs, never below 0) * 7 / credits used in the
  window; postpaid, (credit limit - debt) * 7 / money charged in the window with its tax
  (0 once the debt reaches the limit). None (the API's null, the pages' "—") when nothing
  was used in the window.

Nothing here reads the ledger. Each usage path adds its credits (and, postpaid, its money)
to the day's row of ``usage_days`` in the same transaction as its ledger postings
(``count_usage``: the ledger's post_transaction and post_many for prepaid, the postpaid
charges in tenants.billing), then re-reads the window's 7 rows and stores its sums on the
organization with the window's first day, from which the database computes the stored,
indexed ``forecast_days_left`` (tenants.models.organizations). A prepaid usage on PostgreSQL
does both in its posting's one statement (tenants.credits.ledger_one, ``in_place``): the
day's row goes up, and so do the stored sums when their window has not slid (else they are
re-read right after, ``counted_in_place``). Days pass without usage: the hourly job of
tenants.credits.forecast_refresh re-reads the window of every organization whose stored sums
are not zero.

The alert "warn me N days before I run out" (``forecast_alert_days``) fires when a change
of the forecast *crosses* N: days left before the change above N (or no forecast), after it
at or below N. Not only usage lowers days left: so do a withdrawal or any other movement
taking credits out of the organization (the ledger: ``changed`` with its total), a
reservation for a campaign run (tenants.credits.reservations) and a lower credit limit
(``credit_limit_changing``). Every writer compares under the organization's row lock (the
usage paths, the ledger and the reservations have just updated the row; the job and the
credit limit lock it), so exactly one transaction crosses, and the alert re-arms by itself
once a purchase, a payment, a release or a quieter week lifts the forecast back above N —
the low-balance alert's rule (tenants.credits.alerts).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from types import SimpleNamespace

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm.attributes import set_committed_value

from tenants.core.extensions import db
from tenants.credits.forecast_days import Used, add_to_days, local_day, window_start
from tenants.jobs.outbox import enqueue
from tenants.models import Organization, OrganizationStatus, PricingModel, UsageDay
from tenants.models.forecast_days import FORECAST_WINDOW_DAYS, days_left
from tenants.models.ledger import HOLDING_KINDS, USED_TYPES, AccountKind

WINDOW_DAYS = FORECAST_WINDOW_DAYS
ALERT_DAYS_MAX = 90
_ZERO = Decimal("0")
_ONE_DECIMAL = Decimal("0.1")


@dataclass(frozen=True)
class Forecast:
    daily_usage: Decimal  # credits a day, one decimal
    days_left: int | None


def forecast_of(org: Organization) -> Forecast | None:
    """The organization's forecast as stored; None without usage in the window."""
    if not org.forecast_usage_7d or org.forecast_usage_7d <= 0:
        return None
    daily = (Decimal(org.forecast_usage_7d) / WINDOW_DAYS).quantize(
        _ONE_DECIMAL, rounding=ROUND_HALF_UP
    )
    return Forecast(daily_usage=daily, days_left=org.forecast_days)


def crossed(before: int | None, after: int | None, level: int) -> bool:
    """Days left went from above ``level`` (or no forecast) to at or below it."""
    return after is not None and after <= level and (before is None or before > level)


# What the forecast reads of an organization's row after a change: the usage paths', the
# ledger's and the reservations' UPDATEs answer it (RETURNING), ledger_one's statement too.
FORECAST_STATE = (
    Organization.id,
    Organization.status,
    Organization.pricing_model,
    Organization.total_credits,
    Organization.reserved_credits,
    Organization.debt,
    Organization.credit_limit,
    Organization.forecast_usage_7d,
    Organization.forecast_charge_7d,
    Organization.forecast_days_left,
    Organization.forecast_alert_days,
    Organization.forecast_window_start,
)


def count_usage(org: Organization, used: Iterable[Used], *, moved: int | Decimal) -> None:
    """Add ``used`` to the organization's day totals and store its window's sums (one
    UPDATE reading at most 7 rows), alerting on a crossing. ``moved``: how much this
    transaction moved what the forecast divides -- prepaid, the total credits (negative for
    usage); postpaid, the debt (positive). The caller holds the organization's row lock (it
    has just updated the row).

    The forecast *before* is this window's without this transaction's usage and movement:
    so a window that slid since the last refresh (a quieter week lifting the forecast back
    above N) re-arms the alert even before the hourly job has run."""
    store_window(org, add_to_days(org, used), moved=moved)


def store_window(
    org: Organization, added: dict[date, tuple[int, Decimal]], *, moved: int | Decimal
) -> None:
    """Re-read the window's sums onto the organization (its start with them) after ``added``
    (credits and money by day) went into its day totals; alert on a crossing."""
    start = window_start(org.timezone)
    db.session.flush()  # a Core statement: what the session holds goes first
    row = db.session.execute(_store_window(), {"p_org": org.id, "p_start": start}).one_or_none()
    if row is not None:
        after_counting(org, row, added, start, moved)


@cache
def _store_window():
    """store_window's UPDATE, built once: it runs on an organization's first usage of each
    day (its window slid), and building it anew (an ORM UPDATE, its cache key) cost more
    than the usage charge's own statement (bench/README.md, session 20)."""
    org, days = Organization.__table__, UsageDay.__table__

    def window_sum(column):
        return (
            select(func.coalesce(func.sum(column), 0))
            .where(days.c.organization_id == bindparam("p_org"), days.c.day >= bindparam("p_start"))
            .scalar_subquery()
        )

    return (
        update(org)
        .where(org.c.id == bindparam("p_org"))
        .values(
            forecast_usage_7d=window_sum(days.c.credits),
            forecast_charge_7d=window_sum(days.c.charged),
            forecast_window_start=bindparam("p_start", type_=org.c.forecast_window_start.type),
        )
        .returning(*(org.c[column.key] for column in FORECAST_STATE))
    )


def in_window(added: dict[date, tuple[int, Decimal]], start: date) -> tuple[int, Decimal]:
    """What of ``added`` (credits and money by day) falls in the window starting ``start``."""
    credits = sum(c for day, (c, _m) in added.items() if day >= start)
    return credits, sum((m for day, (_c, m) in added.items() if day >= start), _ZERO)


def after_counting(
    org: Organization,
    row,
    added: dict[date, tuple[int, Decimal]],
    start: date,
    moved: int | Decimal,
) -> None:
    """``row`` (the organization's FORECAST_STATE once ``added`` is in its sums): keep the ORM
    object's forecast in step and alert when this transaction crossed the alert days."""
    keep_in_step(
        org,
        row,
        ("forecast_usage_7d", "forecast_charge_7d", "forecast_days_left", "forecast_window_start"),
    )
    if not may_alert(row):
        return
    credits, charged = in_window(added, start)
    if row.pricing_model == PricingModel.PREPAID:
        changed(row, total=int(moved), usage=credits, charge=charged)
    else:
        changed(row, debt=Decimal(moved), usage=credits, charge=charged)


def may_alert(row) -> bool:
    """Whether the organization (``row``: its FORECAST_STATE) is told when its days left
    cross its alert days: an active one that set them."""
    return bool(row.forecast_alert_days) and row.status == OrganizationStatus.ACTIVE


def changed(
    row,
    *,
    total: int = 0,
    reserved: int = 0,
    debt: Decimal = _ZERO,
    credit_limit: Decimal = _ZERO,
    usage: int = 0,
    charge: Decimal = _ZERO,
) -> None:
    """``row``: the organization's FORECAST_STATE once this transaction moved its total
    credits by ``total``, its reserved credits by ``reserved``, its debt, its credit limit
    and its window's usage and money by the amounts given; queue the alert when that took
    days left across the alert days. The caller holds the organization's row lock (it has
    just updated the row, or locked it): the one rule of every writer, once per crossing."""
    if not may_alert(row):
        return
    before = days_left(
        row.pricing_model,
        row.total_credits - total,
        row.debt - debt,
        row.credit_limit - credit_limit,
        row.forecast_usage_7d - usage,
        row.forecast_charge_7d - charge,
        reserved_credits=row.reserved_credits - reserved,
    )
    alert_on_crossing(row, before, row.forecast_usage_7d)


def keep_in_step(org: Organization, row, names: Iterable[str]) -> None:
    """The ORM object's ``names`` as ``row`` (fresh from the database) has them, without
    marking them changed; a read-only row (the API's) is left alone."""
    if isinstance(org, Organization):
        loaded = org.__dict__
        for name in names:
            # One not loaded (a batch loads a few columns) is read fresh if ever asked.
            if name in loaded:
                set_committed_value(org, name, getattr(row, name))


def credit_limit_changing(org: Organization, credit_limit: Decimal) -> None:
    """A postpaid organization's credit limit is about to become ``credit_limit`` (its
    caller writes it in this transaction): lock the organization's row, the forecast's
    writers' order, and queue the alert when the new limit takes days left across the alert
    days."""
    row = db.session.execute(
        select(*FORECAST_STATE).where(Organization.id == org.id).with_for_update()
    ).one_or_none()
    if row is None or row.pricing_model != PricingModel.POSTPAID:
        return
    after = SimpleNamespace(**{**row._asdict(), "credit_limit": credit_limit})
    changed(after, credit_limit=credit_limit - row.credit_limit)


# -- counting in the posting's own statement (tenants.credits.ledger_one) ----------------------


@dataclass(frozen=True)
class InPlace:
    """A prepaid posting's usage, counted by the posting's statement itself: its day's
    total goes up by ``credits`` and, when the stored sums were read for the window starting
    at ``start``, they go up by ``in_window`` (``credits`` when ``day`` is in the window)."""

    day: date
    start: date
    credits: int
    in_window: int


def in_place(org: Organization, postings: list, moment: datetime) -> InPlace | None:
    """What a posting's statement counts (None: no usage in it)."""
    used = counted_usage(postings, moment)
    if not used:
        return None
    credits = used[0].credits
    day, start = local_day(org.timezone, moment), window_start(org.timezone)
    return InPlace(day, start, credits, credits if day >= start else 0)


def counted_in_place(org: Organization, counted: InPlace, row, *, moved: int) -> None:
    """After the posting's statement: ``row``, the organization's FORECAST_STATE and window start as
    the statement left them. A window that slid since the sums were read (the statement left
    them alone) is re-read now."""
    added = {counted.day: (counted.credits, _ZERO)}
    if row.forecast_window_start != counted.start:
        store_window(org, added, moved=moved)
    else:
        after_counting(org, row, added, counted.start, moved)


def days_left_of(row) -> int | None:
    """Days left as ``row`` (an organization's FORECAST_STATE) has its inputs."""
    return days_left(
        row.pricing_model,
        row.total_credits,
        row.debt,
        row.credit_limit,
        row.forecast_usage_7d,
        row.forecast_charge_7d,
        reserved_credits=row.reserved_credits,
    )


def alert_on_crossing(row, before: int | None, usage: int) -> None:
    """Queue the alert's email and SMS when ``row``'s days left crossed its alert days."""
    after = days_left_of(row)
    if not crossed(before, after, row.forecast_alert_days):
        return
    daily = (Decimal(usage) / WINDOW_DAYS).quantize(_ONE_DECIMAL, rounding=ROUND_HALF_UP)
    kwargs = {
        "organization_id": row.id,
        "days_left": after,
        "daily_usage": str(daily),
        "alert_days": row.forecast_alert_days,
    }
    enqueue("send_forecast_email", **kwargs)
    enqueue("send_forecast_sms", **kwargs)


def window_sums(org_ids: list[str], starts: dict[str, date]) -> dict[str, tuple[int, Decimal]]:
    """Each organization's credits and money of its window, from at most 7 rows apiece."""
    earliest = min(starts.values())
    # An IN list, not one array (tenants.core.bulk.one_of): prepared with an array, the
    # statement got PostgreSQL's generic plan, a bitmap scan of every version of the rows a
    # batch rewrites (5 → 53 ms a batch of B6); the list is planned for its values each time.
    rows = db.session.execute(
        select(UsageDay.organization_id, UsageDay.day, UsageDay.credits, UsageDay.charged).where(
            UsageDay.organization_id.in_(org_ids), UsageDay.day >= earliest
        )
    ).all()
    sums: dict[str, tuple[int, Decimal]] = dict.fromkeys(org_ids, (0, _ZERO))
    for org_id, day, credits, charged in rows:
        if day >= starts[org_id]:
            total, money = sums[org_id]
            sums[org_id] = (total + int(credits), money + (charged or _ZERO))
    return sums


def counted_usage(postings: Iterable, moment: datetime) -> list[Used]:
    """The credits a ledger transaction's postings used: what went to the usage account in
    postings of the used types (a refund's negative)."""
    credits = sum(
        p.credits for p in postings if p.ref.kind == AccountKind.USAGE and p.type in USED_TYPES
    )
    return [Used(moment, credits)] if credits else []


def count_postings(
    org: Organization,
    postings: list,
    moment: datetime,
    *,
    postpaid: bool = False,
    state=None,
) -> None:
    """A prepaid ledger transaction's usage (or message, or refund) in the daily totals and
    the forecast, under the organization's row lock its total's UPDATE took. A postpaid one
    is counted by its charge, with its money (tenants.billing.postpaid). ``state``: the
    organization's FORECAST_STATE after that UPDATE, to alert when credits leaving without
    usage (a withdrawal, a transfer out) cross the alert days; None, no alert (a close-out)."""
    if postpaid:
        return
    used = counted_usage(postings, moment)
    net = sum(p.credits for p in postings if p.ref.kind in HOLDING_KINDS)
    if used:
        count_usage(org, used, moved=net)
    elif state is not None:
        total_moved(state, net)


def total_moved(state, net: int) -> None:
    """A prepaid movement without usage moved the organization's total credits by ``net``
    (``state``: its FORECAST_STATE after, under the row lock): credits leaving lower days
    left, which may cross the alert days."""
    if net < 0:
        changed(state, total=net)
