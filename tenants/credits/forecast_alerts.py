"""The forecast alert's deliveries: "you will run out in N days", by email and by SMS to the
notification mobile, to the people the low-balance alert tells (tenants.credits.alerts);
queued once per crossing by tenants.credits.forecast."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import force_locale, format_decimal, ngettext

from tenants.core.extensions import db
from tenants.credits.alerts import alert_recipient
from tenants.jobs.registry import job
from tenants.models import Organization, PricingModel
from tenants.notify.emails import external_url, send_email_template
from tenants.notify.recipients import language_for, owner_user
from tenants.notify.sms import send_sms


def _link(org: Organization) -> str:
    if org.pricing_model == PricingModel.PREPAID:
        return external_url("credits.purchase", org_id=org.id)
    return external_url("organization.overview", org_id=org.id)


@job("send_forecast_email")
def deliver_forecast_email(
    organization_id: str, days_left: int, daily_usage: str, alert_days: int
) -> None:
    org = db.session.get(Organization, organization_id)
    if org is None:
        return
    email, owner = alert_recipient(org)
    if not email:
        return
    send_email_template(
        email,
        language_for(email, org, owner),
        "forecast_alert",
        organization=org,
        prepaid=org.pricing_model == PricingModel.PREPAID,
        days_left=days_left,
        daily_usage=Decimal(daily_usage),
        alert_days=alert_days,
        link=_link(org),
    )


@job("send_forecast_sms")
def deliver_forecast_sms(
    organization_id: str, days_left: int, daily_usage: str, alert_days: int
) -> None:
    org = db.session.get(Organization, organization_id)
    if org is None or not org.notification_mobile:
        return
    email, _owner = alert_recipient(org)
    language = language_for(email, org, owner_user(org)) if email else "en"
    with force_locale(language):
        values = {"org": org.name, "usage": format_decimal(Decimal(daily_usage), "#,##0.0")}
        if org.pricing_model == PricingModel.PREPAID:
            text = ngettext(
                "%(org)s: at %(usage)s SMS a day, your credits run out in %(num)s day.",
                "%(org)s: at %(usage)s SMS a day, your credits run out in %(num)s days.",
                days_left,
                **values,
            )
        else:
            text = ngettext(
                "%(org)s: at %(usage)s SMS a day, you reach your credit limit in %(num)s day.",
                "%(org)s: at %(usage)s SMS a day, you reach your credit limit in %(num)s days.",
                days_left,
                **values,
            )
    send_sms(org.notification_mobile, text, organization=org)
