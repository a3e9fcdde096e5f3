"""The wholesale pool under concurrency (PostgreSQL, SPEC §10): 16 threads buying, topping
up, sending and withdrawing across one reseller's customers with a small pool — the pool is
never negative, and pool + held + used == given, exactly."""

from __future__ import annotations

import random
import threading
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tenants.access.actors import SYSTEM
from tenants.billing.usage import record_usage
from tenants.core.errors import InsufficientCredits, ResellerCreditsExhausted
from tenants.core.extensions import db
from tenants.credits import operations as credits
from tenants.credits import purchases
from tenants.credits.payments import SandboxCardPayment
from tenants.jobs.outbox import commit, rollback
from tenants.messaging import operations as messaging
from tenants.models import (
    EntryType,
    Organization,
    Purchase,
    PurchaseStatus,
    ResellerRole,
    WholesalePool,
)
from tenants.models.ledger import SYSTEM_ACCOUNT
from tests.conftest import new_reference, owner_actor, staff_actor
from tests.wholesale.conftest import add_lot, assert_balanced, pool_credits

pytestmark = pytest.mark.postgres_only

THREADS = 16
ROUNDS = 12
NUMBERS = ["+34600000001", "+34600000002", "+34600000000"]  # …0000 fails: refunded


@pytest.fixture
def app(app):
    app.config.update(SMS_GATEWAY="sandbox", MESSAGE_GATEWAY_RATE=0, MESSAGE_BATCH_SIZE=2)
    return app


def test_sixteen_threads_never_oversell_a_small_pool(
    app, create_priced_reseller, create_organization, create_reseller_staff
):
    reseller = create_priced_reseller(name="Busy Telecom", pool=0)
    staff = staff_actor(
        reseller, create_reseller_staff(reseller, ResellerRole.ADMIN), ResellerRole.ADMIN
    )
    add_lot(reseller, 1500, "0.020")
    add_lot(reseller, 500, "0.025")
    prepaid = [create_organization(reseller, name=f"Prepaid {i}") for i in range(3)]
    postpaid = create_organization(reseller, name="Postpaid", pricing_model="postpaid")
    postpaid.credit_limit = Decimal("100000")
    commit()
    org_ids = [org.id for org in prepaid]
    reseller_id = reseller.id
    postpaid_id = postpaid.id
    refusals, errors, lowest = [], [], []
    barrier = threading.Barrier(THREADS + 1)
    stop = threading.Event()

    def buy(org):
        purchase = purchases.start_purchase(
            staff,
            org,
            credit_count=random.randint(20, 150),
            account="system",
            payment_method="offline",
        )
        purchases.pay(staff, purchase)

    def top_up(org):
        credits.add_credits(
            SYSTEM, org, SYSTEM_ACCOUNT, random.randint(20, 150), entry_type=EntryType.AUTO_TOP_UP
        )

    def send(org):
        messaging.send_message(SYSTEM, org, to=random.sample(NUMBERS, 2), text="Hello")

    def withdraw(org):
        credits.withdraw_credits(SYSTEM, org, "system", random.randint(1, 40), reason="Test")

    def postpaid_use(_org):
        org = db.session.get(Organization, postpaid_id)
        if random.random() < 0.5:
            record_usage(SYSTEM, org, credits=random.randint(5, 60), reference=new_reference())
        else:
            messaging.send_message(SYSTEM, org, to=random.sample(NUMBERS, 2), text="Hola")

    actions = [buy, top_up, send, withdraw, postpaid_use]

    def work(index):
        rng = random.Random(index)
        with app.app_context():
            try:
                barrier.wait()
                for _ in range(ROUNDS):
                    action = rng.choice(actions)
                    org = db.session.get(Organization, rng.choice(org_ids))
                    try:
                        action(org)
                        commit()
                    except (InsufficientCredits, ResellerCreditsExhausted) as refused:
                        rollback()
                        refusals.append(refused.code)
            except Exception as error:  # reported below
                errors.append(error)
            finally:
                db.session.remove()

    def watch():
        with app.app_context():
            barrier.wait()
            while not stop.is_set():
                lowest.append(
                    db.session.scalar(
                        sa.select(WholesalePool.credits).where(
                            WholesalePool.reseller_id == reseller_id
                        )
                    )
                )
                db.session.rollback()
            db.session.remove()

    db.session.rollback()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    watcher = threading.Thread(target=watch)
    for thread in [*threads, watcher]:
        thread.start()
    for thread in threads:
        thread.join(600)
    stop.set()
    watcher.join(60)
    assert [(e, getattr(e, "fields", None)) for e in errors] == []
    assert "reseller_credits_exhausted" in refusals  # the small pool ran out at some point
    assert min(lowest) >= 0
    assert_balanced(reseller)


def test_a_pool_emptied_while_a_card_is_charged_never_leaves_it_without_its_credits(
    app, monkeypatch, small_reseller, create_organization
):
    """1,000 credits in the pool; a customer pays 600 by card and, while the card network
    is answering, another customer is granted 500. The grant waits for the payment (the
    pool is held from before the charge), then finds 400 and is refused: the card that was
    charged gets its 600 credits (before the hold, the grant took the pool first and the
    paid purchase stayed pending without credits)."""
    buyer = create_organization(reseller=small_reseller, name="Buyer")
    other = create_organization(reseller=small_reseller, name="Other")
    purchase = purchases.start_purchase(
        owner_actor(buyer), buyer, credit_count=600, account="system", payment_method="sandbox"
    )
    commit()
    purchase_id, other_id = purchase.id, other.id
    charging, answered = threading.Event(), threading.Event()
    charge = SandboxCardPayment.charge

    def slow_charge(provider, purchase, details):
        charging.set()  # the grant starts now; the network answers a second later
        answered.wait(30)
        return charge(provider, purchase, details)

    monkeypatch.setattr(SandboxCardPayment, "charge", slow_charge)
    outcome = []

    def grant_meanwhile():
        with app.app_context():
            charging.wait(30)
            threading.Timer(1.0, answered.set).start()
            try:
                org = db.session.get(Organization, other_id)
                credits.add_credits(SYSTEM, org, SYSTEM_ACCOUNT, 500, entry_type=EntryType.PURCHASE)
                commit()
                outcome.append("applied")
            except ResellerCreditsExhausted:
                rollback()
                outcome.append("refused")
            finally:
                db.session.remove()

    thread = threading.Thread(target=grant_meanwhile)
    thread.start()
    purchases.pay(owner_actor(buyer), purchase, {"card_number": "4242 4242 4242 4242"})
    commit()
    thread.join(60)
    db.session.expire_all()
    assert db.session.get(Purchase, purchase_id).status == PurchaseStatus.PAID
    assert outcome == ["refused"]
    assert pool_credits(small_reseller) == 400
    assert_balanced(small_reseller)
