"""Issue 16, item 13: the charts put credits on the day they were used, whenever that was
reported -- the dashboards no longer draw a month of SMS on the day they were recorded -- and
the credits chart's System Credits line never leaves its plot (it ran under the axis, over
the dates, when a purchase today followed SMS reported late)."""

from __future__ import annotations

import re
from datetime import UTC, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from tenants.access.actors import SYSTEM
from tenants.billing.usage import record_usage
from tenants.core.types import utcnow
from tenants.credits import chart
from tenants.credits import operations as credits
from tenants.jobs.outbox import commit
from tenants.models import EntryType
from tenants.models.ledger import SYSTEM_ACCOUNT
from tenants.resellers import dashboards
from tests.conftest import owner_of
from tests.dashboards.test_dashboards import staff

LATE = timedelta(days=5)


@pytest.fixture
def reported_late(create_priced_reseller, create_organization):
    """An organization whose 40 SMS of five days ago are reported today, after it bought
    500 credits today; and a postpaid one with 25 SMS of five days ago reported today."""
    reseller = create_priced_reseller(name="Alpha")
    org = create_organization(reseller, name="Acme SL")
    post = create_organization(reseller, name="Post SL", pricing_model="postpaid")
    post.credit_limit = Decimal("1000")
    commit()
    credits.add_credits(SYSTEM, org, SYSTEM_ACCOUNT, 500, entry_type=EntryType.PURCHASE)
    commit()
    sent = utcnow() - LATE
    record_usage(SYSTEM, org, credits=40, reference="late-1", occurred_at=sent)
    record_usage(SYSTEM, post, credits=25, reference="late-2", occurred_at=sent)
    commit()
    return reseller, org, sent


def test_the_dashboard_counts_usage_on_the_day_it_happened(reported_late):
    reseller, _org, sent = reported_late
    by_day = {d.day: d for d in dashboards.daily_credits(staff(reseller))}
    today = utcnow().astimezone(UTC).date()
    assert by_day[sent.astimezone(UTC).date()].used == 40 + 25
    assert by_day[today].used == 0
    assert by_day[today].sold == 500


def test_the_credits_chart_keeps_the_pool_as_it_was_and_usage_on_its_day(reported_late):
    _reseller, org, sent = reported_late
    series = chart.daily_series(org)
    sent_day = sent.astimezone(ZoneInfo(org.timezone)).date()
    assert {p.day: p.usage for p in series if p.usage} == {sent_day: 40}
    # The pool was empty until today's purchase; today it holds what is left.
    assert [p.balance for p in series[:-1]] == [0] * (len(series) - 1)
    assert series[-1].balance == 460


def test_the_drawn_line_stays_inside_the_plot(reported_late, client, auth):
    _reseller, org, _sent = reported_late
    assert auth.login(owner_of(org).user.email).status_code == 302
    html = client.get(f"/organizations/{org.id}/credits/").get_data(as_text=True)
    points = re.search(r'<polyline points="([^"]+)"', html).group(1).split()
    heights = [float(point.split(",")[1]) for point in points]
    top, axis = 12, 220 - 28  # the chart's top margin and its axis (credits/_chart.html)
    assert all(top <= y <= axis for y in heights), heights
