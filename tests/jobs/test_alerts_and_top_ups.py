"""Low-balance alerts (email + SMS once per crossing), receipts, SMS gateways and automatic
top-ups (once per crossing, declines told and never looped), run by a real RQ worker."""

from __future__ import annotations

import io
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from tenants.access.actors import SYSTEM
from tenants.core.errors import Forbidden, InsufficientCredits
from tenants.core.extensions import db
from tenants.credits import ledger, purchases, topups
from tenants.credits import operations as credits
from tenants.jobs.outbox import commit
from tenants.models import (
    EntryType,
    LedgerEntry,
    Organization,
    Purchase,
    PurchaseStatus,
    QueuedJob,
    SmsMessage,
)
from tests.conftest import PASSWORD, member_actor, new_reference, text_of
from tests.credits.conftest import fund
from tests.jobs.conftest import burst_worker, use

GOOD_CARD = "4242 4242 4242 4242"
DECLINED_CARD = "4000 0000 0000 0002"


def sms_texts() -> list[str]:
    return list(db.session.scalars(sa.select(SmsMessage.text).order_by(SmsMessage.created_at)))


def jobs_named(name: str) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(QueuedJob).where(QueuedJob.name == name)
    )


# -- low-balance alert ------------------------------------------------------------------------


def test_alert_email_and_sms_once_per_crossing_then_again_after_a_top_up(
    app, shop, smtp_server, redis
):
    org_id = shop.org.id
    fund(shop.org, 300)
    use(shop.org, 150)  # 150: above the threshold of 100
    use(shop.org, 60)  # 90: crosses
    use(shop.org, 30)  # 60: already below, no new alert
    use(shop.org, 60)  # 0: still below
    burst_worker(app)
    alerts = smtp_server.to("alerts@acme.example")
    assert len(alerts) == 1
    (alert,) = alerts
    assert "Acme" in alert["Subject"] and "90" in alert["Subject"]
    assert "all its accounts together" in text_of(alert)
    assert alert.get_body(preferencelist=("html",)) is not None
    assert len(sms_texts()) == 1
    assert "90" in sms_texts()[0]
    (sms,) = db.session.scalars(sa.select(SmsMessage)).all()
    assert (sms.to, sms.gateway, sms.organization_id) == ("+34600000001", "log", org_id)

    # Credits bought: the alert re-arms; the next crossing alerts once more.
    fund(shop.org, 500)  # 500
    use(shop.org, 450)  # 50: crosses again
    use(shop.org, 10)
    burst_worker(app)
    assert len(smtp_server.to("alerts@acme.example")) == 2
    assert len(sms_texts()) == 2


def test_no_alert_when_switched_off_or_when_a_debit_is_refused(app, shop, smtp_server):
    shop.org.low_balance_alert = False
    commit()
    fund(shop.org, 150)
    use(shop.org, 100)
    assert jobs_named("send_low_balance_email") == 0
    shop.org.low_balance_alert = True
    commit()
    with pytest.raises(InsufficientCredits):
        use(shop.org, 60)  # refused whole: nothing moves, nothing crosses
    db.session.rollback()
    assert jobs_named("send_low_balance_email") == 0


def test_alert_falls_back_to_the_notification_email_then_the_owner_in_their_language(
    app, shop, smtp_server
):
    shop.org.alert_email = None
    shop.org.notification_mobile = None
    shop.owner.user.language = "es"
    shop.org.low_balance_threshold = 20000
    commit()
    fund(shop.org, 25000)
    use(shop.org, 10000)
    (message,) = smtp_server.wait_for(1)
    assert message["To"] == "owner@acme.example"
    # Rendered in Spanish: numbers as Spanish readers write them (new strings are
    # translated when the catalog is updated).
    assert "15.000" in message["Subject"] and "20.000" in text_of(message)
    assert sms_texts() == []  # no notification mobile, no SMS

    shop.org.notification_email = "notify@acme.example"
    commit()
    fund(shop.org, 10000)
    use(shop.org, 20000)
    smtp_server.wait_for(2)
    assert len(smtp_server.to("notify@acme.example")) == 1


def test_a_member_account_debit_alerts_when_the_total_crosses(
    app, shop, smtp_server, create_member
):
    """The alert watches the organization's total (tests/jobs/test_alert_on_total.py): a
    member account's debit that takes the total across alerts, naming no account."""
    member = create_member(shop.org, name="Mia Member")
    shop.org.individual_user_credits = True
    commit()
    account = f"member:{member.id}"
    fund(shop.org, 120, account)
    use(shop.org, 30, account)
    (alert,) = smtp_server.to("alerts@acme.example")
    assert "Mia Member" not in text_of(alert) and "all its accounts together" in text_of(alert)


# -- SMS gateways ---------------------------------------------------------------------------


def test_platform_admins_read_the_sms_log(app, client, auth, shop, create_platform_staff):
    fund(shop.org, 150)
    use(shop.org, 100)
    admin = create_platform_staff()
    auth.login(admin.email)
    page = client.get("/platform/sms")
    assert page.status_code == 200
    assert b"+34600000001" in page.data and b"Acme" in page.data
    assert b"/platform/sms" in client.get("/platform/").data


def test_the_http_gateway_posts_json_with_the_token(app, shop):
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.headers["Authorization"], json.loads(body)))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"id": "gw-42"}')

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        app.config.update(
            SMS_GATEWAY="http",
            SMS_GATEWAY_URL=f"http://127.0.0.1:{server.server_port}/send",
            SMS_GATEWAY_TOKEN="secret-token",
        )
        fund(shop.org, 150)
        use(shop.org, 100)
    finally:
        server.shutdown()
        server.server_close()
    ((authorization, payload),) = received
    assert authorization == "Bearer secret-token"
    assert payload["to"] == "+34600000001" and "50" in payload["text"]
    (sms,) = db.session.scalars(sa.select(SmsMessage)).all()
    assert (sms.gateway, sms.status, sms.gateway_reference) == ("http", "sent", "gw-42")


def test_an_unreachable_http_gateway_fails_the_job_for_a_retry(app, shop):
    from tests.conftest import free_port

    app.config.update(SMS_GATEWAY="http", SMS_GATEWAY_URL=f"http://127.0.0.1:{free_port()}/")
    fund(shop.org, 150)
    use(shop.org, 100)
    job = db.session.scalar(sa.select(QueuedJob).where(QueuedJob.name == "send_low_balance_sms"))
    assert job.finished_at is None and "SmsGatewayError" in job.last_error
    assert sms_texts() == []


# -- receipts -------------------------------------------------------------------------------


def test_a_paid_purchase_emails_the_receipt_with_its_pdf(app, shop, smtp_server):
    purchase = purchases.start_purchase(
        member_actor(shop.owner),
        shop.org,
        credit_count=1000,
        account="system",
        payment_method="sandbox",
    )
    purchases.pay(member_actor(shop.owner), purchase, {"card_number": GOOD_CARD})
    commit()
    (message,) = smtp_server.wait_for(1)
    assert message["To"] == "billing@acme.example"
    assert purchase.receipt.number in message["Subject"]
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    pdf = PdfReader(io.BytesIO(attachment.get_content()))
    assert purchase.receipt.number in pdf.pages[0].extract_text()
    assert message.get_body(preferencelist=("html",)) is not None
    # Paying again (double submit) sends nothing more.
    purchases.pay(member_actor(shop.owner), purchase, {"card_number": GOOD_CARD})
    commit()
    assert jobs_named("send_receipt") == 1


# -- automatic top-up -----------------------------------------------------------------------


def _auto_top_up(shop, below=100, amount=1000, card=GOOD_CARD):
    shop.org.auto_top_up_enabled = True
    shop.org.auto_top_up_below = below
    shop.org.auto_top_up_credits = amount
    shop.org.low_balance_alert = False
    commit()
    if card:
        topups.save_card(member_actor(shop.owner), shop.org, {"card_number": card})
        commit()


def _auto_purchases(org_id) -> list[Purchase]:
    return db.session.scalars(
        sa.select(Purchase).where(Purchase.organization_id == org_id, Purchase.automatic.is_(True))
    ).all()


def test_automatic_top_up_buys_once_per_crossing_with_the_saved_card(app, shop, smtp_server, redis):
    _auto_top_up(shop)
    org_id = shop.org.id
    fund(shop.org, 150)
    use(shop.org, 60)  # 90: below 100
    use(shop.org, 10)  # 80: no second top-up
    assert jobs_named("auto_top_up") == 1
    burst_worker(app)
    db.session.expire_all()
    (bought,) = _auto_purchases(org_id)
    assert bought.status == PurchaseStatus.PAID and bought.credits == 1000
    assert ledger.balance(shop.org).system_credits == 1080
    entry = db.session.scalar(
        sa.select(LedgerEntry).where(LedgerEntry.reference == bought.id, LedgerEntry.credits > 0)
    )
    assert entry.type == EntryType.AUTO_TOP_UP
    assert smtp_server.wait_for(1)[0]["To"] == "billing@acme.example"  # its receipt

    use(shop.org, 1000)  # 80 again: a new crossing, a new top-up
    burst_worker(app)
    db.session.expire_all()
    assert len(_auto_purchases(org_id)) == 2


def test_a_declined_top_up_notifies_the_owner_and_the_reseller_and_does_not_loop(
    app, shop, smtp_server, redis
):
    _auto_top_up(shop, card=DECLINED_CARD)
    org_id = shop.org.id
    fund(shop.org, 150)
    use(shop.org, 100)
    burst_worker(app)
    burst_worker(app)  # nothing is retried
    db.session.expire_all()
    (declined,) = _auto_purchases(org_id)
    assert declined.status == PurchaseStatus.DECLINED
    job = db.session.scalar(sa.select(QueuedJob).where(QueuedJob.name == "auto_top_up"))
    assert job.finished_at is not None and job.attempts == 1 and job.last_error is None
    smtp_server.wait_for(2)
    owner_mail = smtp_server.to("owner@acme.example")
    reseller_mail = smtp_server.to("rita@reseller.example")
    assert len(owner_mail) == 1 and len(reseller_mail) == 1
    assert "declined" in text_of(owner_mail[0])
    assert "Acme" in reseller_mail[0]["Subject"]
    # Still below and still switched on: further usage does not try again.
    use(shop.org, 10)
    assert jobs_named("auto_top_up") == 1
    db.session.expire_all()
    assert db.session.get(type(shop.org), org_id).auto_top_up_enabled


@pytest.mark.parametrize("reason", ["no_saved_card", "cap_reached", "price_not_set"])
def test_top_up_failures_are_told_and_not_retried(app, shop, smtp_server, reason):
    from tenants.organizations.operations import update_organization

    _auto_top_up(shop, card=None if reason == "no_saved_card" else GOOD_CARD)
    if reason == "cap_reached":
        app.config["AUTO_TOP_UP_MONTHLY_CAP"] = 0
    if reason == "price_not_set":
        # The price list keeps a currency its customers pay in: this one now pays in
        # another, which the list does not name.
        update_organization(SYSTEM, shop.org, {"currency": "GBP"})
        commit()
    fund(shop.org, 150)
    use(shop.org, 100)
    assert _auto_purchases(shop.org.id) == []
    smtp_server.wait_for(2)
    assert len(smtp_server.to("owner@acme.example")) == 1
    assert len(smtp_server.to("rita@reseller.example")) == 1
    job = db.session.scalar(sa.select(QueuedJob).where(QueuedJob.name == "auto_top_up"))
    assert job.finished_at is not None and job.last_error is None


def test_the_monthly_cap_counts_automatic_top_ups(app, shop):
    _auto_top_up(shop)
    app.config["AUTO_TOP_UP_MONTHLY_CAP"] = 1
    fund(shop.org, 150)
    use(shop.org, 100)  # 50 → top-up 1 (1050)
    use(shop.org, 1000)  # 50 → cap reached
    assert len(_auto_purchases(shop.org.id)) == 1
    assert ledger.balance(shop.org).system_credits == 50


def test_a_saved_card_is_neither_saved_nor_used_during_login_as(app, shop):
    acting = member_actor(shop.owner, real_user_id="usr_support")
    with pytest.raises(Forbidden):
        topups.save_card(acting, shop.org, {"card_number": GOOD_CARD})
    topups.save_card(member_actor(shop.owner), shop.org, {"card_number": GOOD_CARD})
    commit()
    purchase = purchases.start_purchase(
        acting, shop.org, credit_count=100, account="system", payment_method="sandbox"
    )
    with pytest.raises(Forbidden) as refused:
        topups.pay_with_saved_card(acting, purchase)
    assert "acting as another person" in str(refused.value)
    paid = topups.pay_with_saved_card(member_actor(shop.owner), purchase)
    assert paid.status == PurchaseStatus.PAID


def test_the_pay_page_saves_the_card_for_automatic_top_ups(app, client, auth, shop):
    auth.login("owner@acme.example", PASSWORD)
    purchase = purchases.start_purchase(
        member_actor(shop.owner),
        shop.org,
        credit_count=100,
        account="system",
        payment_method="sandbox",
    )
    commit()
    url = f"/organizations/{shop.org.id}/credits/purchases/{purchase.id}/pay"
    assert b"Save this card" in client.get(url).data
    response = client.post(
        url, data={"card_number": GOOD_CARD, "expiry": "12/30", "save_card": "y"}
    )
    assert response.status_code == 302
    method = topups.saved_card(shop.org)
    assert method.last4 == "4242" and GOOD_CARD.replace(" ", "") not in method.token


@pytest.mark.postgres_only
def test_automatic_top_up_fires_once_per_crossing_under_concurrent_usage(app, shop):
    """Twenty debits of 10 race from 205 down past 100: exactly one transaction crosses."""
    _auto_top_up(shop, amount=500)
    app.config["REDIS_URL"] = None
    fund(shop.org, 205)
    org_id = shop.org.id

    def debit(_):
        with app.app_context():
            org = db.session.get(Organization, org_id)
            try:
                credits.record_usage(SYSTEM, org, credits=10, reference=new_reference())
                db.session.commit()  # a plain commit: the jobs stay pending, run below
            finally:
                db.session.info.pop("queued_job_ids", None)
                db.session.remove()

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(debit, range(20)))
    db.session.expire_all()
    assert jobs_named("auto_top_up") == 1
    assert ledger.balance(shop.org).system_credits == 5
    from tenants.jobs.outbox import pending_jobs, run_queued_job

    for job_id in pending_jobs():
        run_queued_job(job_id)
    db.session.expire_all()
    (bought,) = _auto_purchases(org_id)
    assert bought.status == PurchaseStatus.PAID
    assert ledger.balance(shop.org).system_credits == 505
