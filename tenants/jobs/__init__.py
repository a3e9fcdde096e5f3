"""Background jobs: each takes ids, renders in the recipient's language, opens its own context.

RQ workers call ``run_queued_job(job_id)``; it opens an app context when there is none.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import has_app_context

_worker_app = None


def _with_app_context(func: Callable) -> Callable:
    @wraps(func)
    def wrapper(*args, **kwargs):
        if has_app_context():
            return func(*args, **kwargs)
        global _worker_app
        if _worker_app is None:
            from app import create_app

            _worker_app = create_app()
        with _worker_app.app_context():
            return func(*args, **kwargs)

    return wrapper


@_with_app_context
def run_queued_job(job_id: str) -> None:
    from tenants.jobs.outbox import run_queued_job as run

    run(job_id)


def send_password_reset(user_id: str) -> None:
    from tenants.people import invitations as notifications

    notifications.deliver_password_reset(user_id)


def send_invitation(
    member_id: str | None = None, user_id: str | None = None, reseller_id: str | None = None
) -> None:
    from tenants.people import invitations as notifications

    notifications.deliver_invitation(member_id=member_id, user_id=user_id, reseller_id=reseller_id)


def send_support_session_started(support_session_id: str) -> None:
    from tenants.support import sessions as support

    support.deliver_support_session_started(support_session_id)


def send_receipt(purchase_id: str) -> None:
    from tenants.credits import receipts

    receipts.deliver_receipt(purchase_id)


def send_low_balance_email(
    organization_id: str, account: str, balance: int, threshold: int
) -> None:
    from tenants.credits import alerts

    alerts.deliver_low_balance_email(organization_id, account, balance, threshold)


def send_low_balance_sms(organization_id: str, account: str, balance: int, threshold: int) -> None:
    from tenants.credits import alerts

    alerts.deliver_low_balance_sms(organization_id, account, balance, threshold)


def auto_top_up(organization_id: str, balance: int | None = None) -> None:
    from tenants.credits import topups

    topups.run_auto_top_up(organization_id, balance)


def send_auto_top_up_failed(
    organization_id: str, user_id: str, reason: str, purchase_id: str | None = None
) -> None:
    from tenants.credits import topups

    topups.deliver_auto_top_up_failed(organization_id, user_id, reason, purchase_id)


def send_invoice_email(invoice_id: str) -> None:
    from tenants.billing import emails as billing_notifications

    billing_notifications.deliver_invoice_email(invoice_id)


@_with_app_context
def run_monthly_invoices() -> None:
    """Daily: invoice every ended month still missing (billing.monthly_run)."""
    from tenants.billing import monthly_run

    monthly_run.run_monthly_catch_up()


def expire_pending_purchases() -> None:
    """Hourly: pending purchases nobody paid in time are marked expired, never credited."""
    from tenants.credits import purchases

    purchases.expire_pending_purchases()


JOBS: dict[str, Callable[..., None]] = {
    "send_password_reset": send_password_reset,
    "send_invitation": send_invitation,
    "send_invoice_email": send_invoice_email,
    "run_monthly_invoices": run_monthly_invoices,
    "send_receipt": send_receipt,
    "send_low_balance_email": send_low_balance_email,
    "send_low_balance_sms": send_low_balance_sms,
    "auto_top_up": auto_top_up,
    "send_auto_top_up_failed": send_auto_top_up_failed,
    "send_support_session_started": send_support_session_started,
    "expire_pending_purchases": expire_pending_purchases,
}
