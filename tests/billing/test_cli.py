"""``flask billing run-monthly``: default month, refusal of a month not ended, counts."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from tenants.billing import periods
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.models import Invoice


def test_the_cli_refuses_a_month_that_has_not_ended(runner):
    this_month = utcnow().astimezone(UTC).strftime("%Y-%m")
    result = runner.invoke(args=["billing", "run-monthly", "--period", this_month])
    assert result.exit_code != 0
    assert "has not ended" in result.output


def test_the_cli_refuses_a_malformed_month(runner):
    result = runner.invoke(args=["billing", "run-monthly", "--period", "October"])
    assert result.exit_code != 0
    assert "YYYY-MM" in result.output


def test_the_cli_invoices_the_month_that_just_ended_and_prints_counts(
    runner, clock, create_postpaid, monkeypatch
):
    org = create_postpaid()
    from tests.billing.conftest import use

    use(org, 10, at=datetime(2026, 10, 28, tzinfo=UTC))
    monkeypatch.setattr(periods, "last_ended_period", lambda now=None: "2026-10")
    result = runner.invoke(args=["billing", "run-monthly"])
    assert result.exit_code == 0, result.output
    assert "Period 2026-10: 1 invoiced, 0 skipped, 0 failed." in result.output
    again = runner.invoke(args=["billing", "run-monthly", "--period", "2026-10"])
    assert "0 invoiced" in again.output


def test_the_daily_job_invoices_ended_months_still_missing(clock, create_postpaid):
    from tenants.jobs.registry import JOBS
    from tests.billing.conftest import use

    org = create_postpaid()
    use(org, 10, at=datetime(2026, 10, 28, tzinfo=UTC))
    JOBS["run_monthly_invoices"]()
    JOBS["run_monthly_invoices"]()
    invoices = db.session.scalars(select(Invoice).where(Invoice.organization_id == org.id)).all()
    assert [invoice.period for invoice in invoices] == ["2026-10"]
