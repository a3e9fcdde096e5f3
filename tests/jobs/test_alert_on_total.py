"""The low-balance alert watches the organization's total credits (system pool + member
accounts), once per crossing; moves between its own accounts never alert, and close-out
withdrawals (the reseller emptying an organization to close it) do not alert at all."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from tenants.access.actors import SYSTEM
from tenants.api_keys.operations import create_api_key
from tenants.core.extensions import db
from tenants.credits import operations as credits
from tenants.jobs.outbox import commit, enqueue
from tenants.models import AuditEntry, Organization, QueuedJob, ResellerRole
from tenants.organizations.operations import suspend_organization
from tests.api.conftest import Api
from tests.conftest import new_reference, text_of
from tests.credits.conftest import fund
from tests.jobs.conftest import burst_worker, outbox, use

ALERTS = "alerts@acme.example"


def alert_jobs() -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(QueuedJob)
        .where(QueuedJob.name == "send_low_balance_email")
    )


def with_members(shop, create_member, count: int) -> list[str]:
    """Individual credits on, ``count`` members; their account values."""
    members = [create_member(shop.org, name=f"Member {n}") for n in range(count)]
    shop.org.individual_user_credits = True
    commit()
    return [f"member:{m.id}" for m in members]


def test_one_alert_per_crossing_of_the_total_whichever_account_moves(
    app, redis, shop, create_member
):
    (mia,) = with_members(shop, create_member, 1)
    fund(shop.org, 80)
    fund(shop.org, 60, mia)  # total 140, alert at 100
    credits.transfer_credits(SYSTEM, shop.org, "system", mia, 50, agreed=True)
    commit()  # 30 + 110: the total stays 140
    use(shop.org, 30, mia)  # 110 (Mia's own account went 110 -> 80: no alert for that)
    use(shop.org, 20, mia)  # 90: the total crosses
    use(shop.org, 10, mia)  # 80: already below
    credits.transfer_credits(SYSTEM, shop.org, mia, "system", 50, agreed=True)
    commit()  # the member account empties: the total does not move
    burst_worker(app)
    (alert,) = outbox(app, ALERTS)
    assert "90" in alert["Subject"]
    assert "all its accounts together" in text_of(alert) and "Member 0" not in text_of(alert)
    assert alert_jobs() == 1

    fund(shop.org, 100)  # 180: re-armed
    credits.withdraw_credits(SYSTEM, shop.org, "system", 90, reason="Correction")
    commit()  # 90: crosses again
    burst_worker(app)
    assert len(outbox(app, ALERTS)) == 2


def test_emptying_four_accounts_to_close_alerts_never_and_otherwise_once(
    app, redis, shop, create_member
):
    """The walk's case: a reseller withdrawing every account to close the organization sent
    its customer four alerts. Close-out withdrawals send none; ordinary ones, one."""
    accounts = ["system", *with_members(shop, create_member, 3)]
    for account in accounts:
        fund(shop.org, 100, account)  # total 400
    for account in accounts:
        credits.withdraw_credits(SYSTEM, shop.org, account, 100, reason="Closing", close_out=True)
        commit()
    assert alert_jobs() == 0
    audit = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "credits.withdrawn")
    ).all()
    assert len(audit) == 4 and all(e.changes["close_out"] == [None, True] for e in audit)

    for account in accounts:
        fund(shop.org, 100, account)
    for account in accounts:
        credits.withdraw_credits(SYSTEM, shop.org, account, 100, reason="Correction")
        commit()
    burst_worker(app)
    assert alert_jobs() == 1
    assert len(outbox(app, ALERTS)) == 1


def test_a_suspended_organization_is_not_alerted_of_withdrawals(app, shop):
    fund(shop.org, 300)
    suspend_organization(SYSTEM, shop.org, "Closing down")
    commit()
    credits.withdraw_credits(SYSTEM, shop.org, "system", 300, reason="Closing")
    commit()
    assert alert_jobs() == 0


def test_the_delete_pages_withdraw_is_a_close_out(app, client, auth, shop, create_reseller_staff):
    agent = create_reseller_staff(shop.reseller, ResellerRole.AGENT)
    fund(shop.org, 300)
    auth.login(agent.email)
    page = client.get(f"/organizations/{shop.org.id}/delete").get_data(as_text=True)
    link = f"/organizations/{shop.org.id}/credits/withdraw?account=system&amp;close_out=1"
    assert link in page
    form = client.get(link.replace("&amp;", "&")).get_data(as_text=True)
    assert 'name="close_out" type="hidden" value="1"' in form
    assert "no low-balance alert is sent" in form
    response = client.post(
        f"/organizations/{shop.org.id}/credits/withdraw",
        data={"account": "system", "credits": "300", "reason": "Closing", "close_out": "1"},
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/organizations/{shop.org.id}/delete")
    assert alert_jobs() == 0

    # The same form opened from the credits page is an ordinary withdrawal: it alerts.
    fund(shop.org, 300)
    client.post(
        f"/organizations/{shop.org.id}/credits/withdraw",
        data={"account": "system", "credits": "250", "reason": "Correction"},
    )
    assert alert_jobs() == 1


def test_the_api_withdraws_to_close_without_an_alert(app, client, shop):
    _key, secret = create_api_key(SYSTEM, reseller=shop.reseller, name="closer")
    commit()
    api = Api(client)
    fund(shop.org, 300)
    url = f"/organizations/{shop.org.id}/withdrawals"
    body = {"credits": 300, "account": "system", "close_out": True}
    assert api.post(url, secret, body).status_code == 201
    assert alert_jobs() == 0
    fund(shop.org, 300)
    assert api.post(url, secret, {"credits": 250, "account": "system"}).status_code == 201
    assert alert_jobs() == 1
    refused = api.post(url, secret, {"credits": 1, "account": "system", "close_out": "yes"})
    assert refused.status_code == 422


def test_an_alert_queued_before_naming_an_account_is_still_delivered(app, shop):
    enqueue(
        "send_low_balance_email",
        organization_id=shop.org.id,
        account="system",
        balance=90,
        threshold=100,
    )
    commit()  # no Redis: run in-process
    (alert,) = outbox(app, ALERTS)
    assert "The balance of the system pool in Acme" in text_of(alert)


@pytest.mark.postgres_only
def test_one_alert_under_concurrent_usage(app, shop, create_member):
    """Twenty debits of 10 from two member accounts, each above the threshold, race the
    total from 215 down past 100: the organization's row lock lets exactly one transaction
    cross (watching each account would alert twice)."""
    accounts = with_members(shop, create_member, 2)
    fund(shop.org, 110, accounts[0])
    fund(shop.org, 105, accounts[1])
    app.config["REDIS_URL"] = None
    org_id = shop.org.id

    def debit(n: int) -> None:
        with app.app_context():
            org = db.session.get(Organization, org_id)
            try:
                credits.record_usage(
                    SYSTEM, org, credits=10, reference=new_reference(), account=accounts[n % 2]
                )
                db.session.commit()  # a plain commit: the jobs stay pending
            finally:
                db.session.info.pop("queued_job_ids", None)
                db.session.remove()

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(debit, range(20)))
    db.session.expire_all()
    assert db.session.get(Organization, org_id).total_credits == 15
    assert alert_jobs() == 1
