"""The forecast alert, "warn me N days before I run out" (SPEC §4): email and SMS when the
days left cross N downwards, once per crossing — not again while they stay at or below N, nor
when the hourly job re-reads the window — and again after they recover above N and cross
once more; on fixed days (the clock frozen)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

import tenants.credits.forecast_days
import tenants.credits.ledger
import tenants.credits.operations
from tenants.access.actors import SYSTEM
from tenants.core.extensions import db
from tenants.credits import forecast_refresh
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
            tenants.credits.forecast_days,
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
    forecast_refresh.refresh_forecasts()  # a day passes: the window re-read, nothing crosses
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


# -- changes that lower days left without usage -----------------------------------------------


def alerted() -> tuple[int, int]:
    return queued("send_forecast_email"), queued("send_forecast_sms")


@pytest.fixture
def watched(shop, clock):
    """Acme warned 7 days ahead, with 9,300 credits held at 100.0 a day: 93 days."""
    shop.org.forecast_alert_days = 7
    commit()
    fund(shop.org, 10_000)
    use(shop.org, 700)
    assert alerted() == (0, 0)
    return shop.org


@pytest.mark.parametrize("account", ["system", "member"])
def test_a_withdrawal_across_the_alert_days_alerts_once(app, watched, shop, account):
    if account == "member":  # a member's account: the ledger's other holding kind
        watched.individual_user_credits = True
        commit()
        credits.transfer_credits(
            SYSTEM, watched, "system", f"member:{shop.owner.id}", 9_000, agreed=True
        )
        commit()
        account = f"member:{shop.owner.id}"
    credits.withdraw_credits(SYSTEM, watched, account, 8_000, reason="Refund")
    commit()  # 1,300 at 100.0 a day: 13 days
    assert alerted() == (0, 0)
    credits.withdraw_credits(SYSTEM, watched, account, 800, reason="Refund")
    commit()  # 500: 5 days, crosses 7
    assert alerted() == (1, 1)
    credits.withdraw_credits(SYSTEM, watched, account, 100, reason="Refund")
    commit()  # 4 days: already below
    assert alerted() == (1, 1)
    fund(watched, 1_000, account)  # 1,400: 14 days, re-armed
    credits.withdraw_credits(SYSTEM, watched, account, 1_000, reason="Refund")
    commit()  # 400: 4 days, crosses again
    assert alerted() == (2, 2)


def test_a_transfer_between_the_organizations_accounts_moves_nothing(app, watched, shop):
    watched.individual_user_credits = True
    commit()
    credits.transfer_credits(
        SYSTEM, watched, "system", f"member:{shop.owner.id}", 9_200, agreed=True
    )
    commit()  # the total stays 9,300: 93 days
    assert alerted() == (0, 0)


def test_a_close_out_withdrawal_does_not_alert(app, watched):
    credits.withdraw_credits(SYSTEM, watched, "system", 9_000, reason="Closing", close_out=True)
    commit()
    assert alerted() == (0, 0)


def test_a_reservation_across_the_alert_days_alerts_once_and_a_release_re_arms(app, watched):
    from tenants.credits import reservations
    from tenants.models.ledger import SYSTEM_ACCOUNT

    reservations.reserve_credits(watched, SYSTEM_ACCOUNT, 8_000)
    commit()  # 1,300 available: 13 days
    assert alerted() == (0, 0)
    reservations.reserve_credits(watched, SYSTEM_ACCOUNT, 800)
    commit()  # 500: 5 days, crosses 7
    assert alerted() == (1, 1)
    reservations.reserve_credits(watched, SYSTEM_ACCOUNT, 100)
    commit()
    assert alerted() == (1, 1)
    reservations.release_credits(watched, SYSTEM_ACCOUNT, 8_900)
    commit()  # 93 days again: no alert, re-armed
    assert alerted() == (1, 1)
    reservations.reserve_credits(watched, SYSTEM_ACCOUNT, 9_000)
    commit()  # 300: 3 days, crosses again
    assert alerted() == (2, 2)


def test_a_usage_after_a_reservation_counts_the_available_credits(app, watched):
    from tenants.credits import reservations
    from tenants.models.ledger import SYSTEM_ACCOUNT

    reservations.reserve_credits(watched, SYSTEM_ACCOUNT, 7_000)
    commit()  # 2,300 available at 100.0 a day: 23 days
    assert alerted() == (0, 0)
    use(watched, 700)  # 1,600 available at 200.0 a day: 8 days
    assert alerted() == (0, 0)
    use(watched, 700)  # 900 at 300.0 a day: 3 days, crosses 7
    assert alerted() == (1, 1)


def test_a_lower_credit_limit_across_the_alert_days_alerts_once(
    app, create_priced_reseller, create_organization, clock
):
    from decimal import Decimal

    from tenants.billing import usage as billing_usage
    from tenants.organizations.operations import update_organization

    reseller = create_priced_reseller(postpaid="0.05")
    org = create_organization(
        reseller,
        name="Postal",
        pricing_model="postpaid",
        credit_limit=Decimal("100"),
        owner_email="owner@postal.example",
    )
    org.forecast_alert_days = 7
    commit()
    billing_usage.record_usage(SYSTEM, org, credits=200, reference=new_reference(), occurred_at=NOW)
    commit()  # €12.10 owed, €1.73 a day: 50 days to the limit
    update_organization(SYSTEM, org, {"credit_limit": "40"})
    commit()  # (40 - 12.10) * 7 / 12.10 = 16 days
    assert alerted() == (0, 0)
    update_organization(SYSTEM, org, {"credit_limit": "20"})
    commit()  # (20 - 12.10) * 7 / 12.10 = 4 days: crosses 7
    assert alerted() == (1, 1)
    update_organization(SYSTEM, org, {"credit_limit": "15"})
    commit()  # 1 day: already below
    assert alerted() == (1, 1)
    update_organization(SYSTEM, org, {"credit_limit": "100"})
    commit()  # 50 days: re-armed
    update_organization(SYSTEM, org, {"credit_limit": "13"})
    commit()
    assert alerted() == (2, 2)
