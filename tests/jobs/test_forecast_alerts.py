"""The forecast alert, "warn me N days before I run out" (SPEC §4): email and SMS when the
days left cross N downwards, once per crossing — not again while they stay at or below N, nor
when the hourly job re-reads the window — and again after they recover above N and cross
once more; on fixed days (the clock frozen)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

import tenants.credits.forecast
import tenants.credits.ledger
import tenants.credits.operations
from tenants.access.actors import SYSTEM
from tenants.core.extensions import db
from tenants.credits import forecast
from tenants.credits import operations as credits
from tenants.jobs.outbox import commit
from tenants.models import QueuedJob, SmsMessage
from tests.conftest import new_reference, text_of
from tests.credits.conftest import fund

NOW = datetime(2026, 12, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock(monkeypatch):
    def set_to(moment: datetime) -> None:
        for module in (
            tenants.credits.forecast,
            tenants.credits.ledger,
            tenants.credits.operations,
        ):
            monkeypatch.setattr(module, "utcnow", lambda: moment)

    set_to(NOW)
    return set_to


def use(org, amount: int, day: int = 10) -> None:
    when = datetime(2026, 12, day, 12, 0, tzinfo=UTC)
    credits.record_usage(SYSTEM, org, credits=amount, reference=new_reference(), occurred_at=when)
    commit()


def forecast_sms() -> list[str]:
    texts = db.session.scalars(sa.select(SmsMessage.text).order_by(SmsMessage.created_at))
    return [text for text in texts if "a day" in text or "al día" in text]


def forecast_emails(smtp_server, address: str) -> list:
    return [m for m in smtp_server.to(address) if "runs out" in m["Subject"]]


def queued(name: str) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(QueuedJob).where(QueuedJob.name == name)
    )


def test_email_and_sms_once_per_crossing_then_again_after_recovering(app, shop, smtp_server, clock):
    shop.org.forecast_alert_days = 7
    commit()
    fund(shop.org, 10_000)
    use(shop.org, 700)  # 9,300 left at 100.0 a day: 93 days
    assert queued("send_forecast_email") == 0
    use(shop.org, 7_000)  # 2,300 left at 1,100.0 a day: 2 days, crosses 7
    smtp_server.wait_for(1)
    (email,) = forecast_emails(smtp_server, "alerts@acme.example")
    assert email["Subject"] == "Acme runs out of SMS credits in 2 days"
    assert "1,100.0 SMS a day" in text_of(email) and "within the 7 days" in text_of(email)
    assert email.get_body(preferencelist=("html",)) is not None
    assert forecast_sms() == ["Acme: at 1,100.0 SMS a day, your credits run out in 2 days."]
    (sms,) = db.session.scalars(
        sa.select(SmsMessage).where(SmsMessage.text.contains("a day"))
    ).all()
    assert sms.to == "+34600000001"

    use(shop.org, 100)  # 1 day: already at or below 7, no new alert
    clock(datetime(2026, 12, 11, 12, 0, tzinfo=UTC))
    forecast.refresh_forecasts()  # a day passes: the window re-read, nothing crosses
    commit()
    assert queued("send_forecast_email") == 1 and queued("send_forecast_sms") == 1

    fund(shop.org, 20_000)  # 22,200 left at 1,114.3 a day: 19 days, back above 7
    use(shop.org, 3_000, day=11)  # 19,200 at 1,542.9: 12 days
    assert queued("send_forecast_email") == 1
    use(shop.org, 12_000, day=11)  # 7,200 at 3,257.1: 2 days, crosses again
    smtp_server.wait_for(2)
    assert len(forecast_emails(smtp_server, "alerts@acme.example")) == 2
    assert len(forecast_sms()) == 2
    assert queued("send_forecast_email") == 2 and queued("send_forecast_sms") == 2


def test_no_alert_while_off_nor_when_already_below_once_switched_on(app, shop, smtp_server, clock):
    fund(shop.org, 1_000)
    use(shop.org, 700)  # 300 left at 100.0 a day: 3 days, but the alert is off
    assert queued("send_forecast_email") == 0
    shop.org.forecast_alert_days = 5
    commit()
    use(shop.org, 1)  # still 2 days, already below: no crossing
    assert queued("send_forecast_email") == 0


def test_postpaid_warns_before_the_credit_limit(
    app, create_priced_reseller, create_organization, smtp_server, clock
):
    from decimal import Decimal

    from tenants.billing import usage as billing_usage

    reseller = create_priced_reseller(postpaid="0.05")
    org = create_organization(
        reseller,
        name="Postal",
        pricing_model="postpaid",
        credit_limit=Decimal("100"),
        owner_email="owner@postal.example",
    )
    org.forecast_alert_days = 30
    org.notification_mobile = "+34600000002"
    commit()
    billing_usage.record_usage(
        SYSTEM, org, credits=200, reference=new_reference(), occurred_at=NOW
    )  # €12.10 owed: 50 days to the limit
    commit()
    assert queued("send_forecast_email") == 0
    billing_usage.record_usage(
        SYSTEM, org, credits=600, reference=new_reference(), occurred_at=NOW
    )  # €48.40 owed: (100 - 48.40) * 7 / 48.40 = 7 days
    commit()
    smtp_server.wait_for(2)  # the owner's invitation, then the alert
    (email,) = [m for m in smtp_server.to("owner@postal.example") if "limit" in m["Subject"]]
    assert email["Subject"] == "Postal reaches its credit limit in 7 days"
    assert forecast_sms() == ["Postal: at 114.3 SMS a day, you reach your credit limit in 7 days."]


def test_the_alert_speaks_the_owners_language(app, shop, smtp_server, clock):
    shop.org.alert_email = None
    shop.org.notification_email = None
    shop.owner.user.language = "es"
    shop.org.forecast_alert_days = 7
    commit()
    fund(shop.org, 10_000)
    use(shop.org, 9_000)  # 1,000 left at 1,285.7 a day: 0 days
    (email,) = smtp_server.wait_for(1)
    assert email["To"] == "owner@acme.example"
    assert email["Subject"] == "Los créditos SMS de Acme se agotan en 0 días"
    assert "1.285,7 SMS al día" in text_of(email)
    assert forecast_sms() == ["Acme: a 1.285,7 SMS al día, tus créditos se agotan en 0 días."]
