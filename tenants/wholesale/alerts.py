"""The low-pool alert: reseller admins are emailed once when the wholesale pool crosses the
reseller's threshold downwards (SPEC §4b)."""

from __future__ import annotations

from tenants.core.extensions import db
from tenants.jobs.outbox import enqueue
from tenants.jobs.registry import job
from tenants.models import Reseller, User
from tenants.notify.emails import external_url, recipient_language, send_email_template
from tenants.notify.recipients import reseller_admins


def pool_changed(reseller_id: str, before: int, after: int, threshold: int) -> None:
    """Under the pool's row lock: when the pool crosses the reseller's threshold downwards
    (before above it, after at or below), one email job per reseller admin. The lock
    serializes the reseller's draws, so exactly one transaction crosses; the alert re-arms
    once a lot (or credits given back) lifts the pool above the threshold again."""
    if threshold > 0 and before > threshold >= after:
        for admin in reseller_admins(reseller_id):
            enqueue(
                "send_low_pool_email",
                reseller_id=reseller_id,
                user_id=admin.id,
                credits=after,
                threshold=threshold,
            )


@job("send_low_pool_email")
def deliver_low_pool_email(reseller_id: str, user_id: str, credits: int, threshold: int) -> None:
    """Tell one reseller admin, in their own language."""
    reseller = db.session.get(Reseller, reseller_id)
    person = db.session.get(User, user_id)
    if reseller is None or person is None:
        return
    language = recipient_language(person, reseller)
    send_email_template(
        person.email,
        language,
        "low_pool_alert",
        reseller=reseller,
        user=person,
        credits=credits,
        threshold=threshold,
        link=external_url("customers.index"),
    )
