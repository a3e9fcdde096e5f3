"""The migration that keeps an invoice's lines in its row (``invoices.lines``): every line of
the ``invoice_lines`` table moves, in order, with its key or its old text, and back again
on downgrade; the database's guards hold afterwards; an old invoice whose lines do not add
up is migrated (not refused) and named by ``flask billing check-invoices``."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tenants.access.actors import SYSTEM
from tenants.billing import monthly_run, periods
from tenants.billing.usage import record_usage
from tenants.core.extensions import db
from tenants.credits import purchases
from tenants.invoices import reading
from tenants.jobs.outbox import commit
from tenants.models import Invoice, InvoiceKind
from tenants.organizations.operations import NewOrganization, create_organization
from tests.conftest import owner_actor, reseller_with_pool, set_prices, using_postgres
from tests.foundation.databases import migrate, run_flask
from tests.foundation.test_migration_usage_references import portal

BEFORE = "a3d8f0c4e2b1"  # the revision before lines moved into the invoice
VALIDATED = sa.text(
    "SELECT convalidated FROM pg_constraint WHERE conname = 'ck_invoices_lines_sum_to_subtotal'"
)


def _invoices() -> dict[str, Invoice]:
    """A receipt (prepaid purchase) and a monthly invoice of two days' usage, committed."""
    reseller = reseller_with_pool("Reseller A")
    set_prices(reseller, "0.045", "0.05")
    prepaid, postpaid = (
        create_organization(
            SYSTEM,
            reseller,
            NewOrganization(
                name=name,
                country="ES",
                pricing_model=model,
                owner_name="Owner Person",
                owner_email=f"owner-{name.lower()}@example.com",
            ),
        )
        for name, model in (("Acme", "prepaid"), ("Beta", "postpaid"))
    )
    postpaid.credit_limit = Decimal("1000")
    commit()
    purchase = purchases.start_purchase(
        owner_actor(prepaid),
        prepaid,
        credit_count=1001,
        account="system",
        payment_method="sandbox",
        language="en",
    )
    purchases.pay(owner_actor(prepaid), purchase, {"card_number": "4242 4242 4242 4242"})
    commit()
    period = periods.last_ended_period()
    end = periods.period_bounds(period, postpaid.timezone)[1]
    for hours, credits in ((1, 7), (26, 333)):  # the month's last two days
        record_usage(
            SYSTEM,
            postpaid,
            credits=credits,
            reference=f"r{hours}",
            occurred_at=end - timedelta(hours=hours),
        )
        commit()
    assert monthly_run.run_monthly(period).invoiced == 1
    return {
        "receipt": purchase.receipt,
        "monthly": db.session.scalars(
            sa.select(Invoice).where(Invoice.kind == InvoiceKind.INVOICE)
        ).one(),
    }


def _records() -> dict[str, list[dict]]:
    db.session.expire_all()
    return {
        invoice.id: [line.record() for line in invoice.lines]
        for invoice in db.session.scalars(sa.select(Invoice))
    }


def test_every_line_moves_into_its_invoice_and_back(database, tmp_path):
    app = portal(database, tmp_path)
    with app.app_context():
        made = _invoices()
        receipt_id, monthly_id = made["receipt"].id, made["monthly"].id
        before = _records()
        assert [len(before[receipt_id]), len(before[monthly_id])] == [1, 2]
        db.session.remove()
        db.engine.dispose()

    migrate(database, tmp_path, "downgrade", BEFORE)
    engine = sa.create_engine(database)
    with engine.begin() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT invoice_id, position, quantity, item, item_date FROM invoice_lines "
                "ORDER BY invoice_id, position"
            )
        ).all()
        assert [(r.invoice_id, r.position, r.quantity) for r in rows] == sorted(
            [(receipt_id, 0, 1001), (monthly_id, 0, 333), (monthly_id, 1, 7)]
        )
        assert "lines" not in {c["name"] for c in sa.inspect(conn).get_columns("invoices")}
        # A line as issued before keys: its text, no key, no rate of its own.
        conn.execute(
            sa.text(
                "UPDATE invoice_lines SET item = NULL, description = 'SMS credits (old)', "
                "tax_percent = NULL WHERE invoice_id = :id"
            ),
            {"id": receipt_id},
        )
    engine.dispose()
    migrate(database, tmp_path, "upgrade")

    with app.app_context():
        after = _records()
        assert after[monthly_id] == before[monthly_id]
        (old,) = after[receipt_id]
        assert old == {
            key: value
            for key, value in before[receipt_id][0].items()
            if key not in ("item", "tax_percent")
        } | {"description": "SMS credits (old)"}
        receipt = db.session.get(Invoice, receipt_id)
        (shown,) = reading.shown_lines(receipt, list(receipt.lines), "en")
        assert (shown.description, shown.tax_percent) == ("SMS credits (old)", Decimal("21"))
        assert "invoice_lines" not in sa.inspect(db.session.connection()).get_table_names()
        if using_postgres():  # every invoice added up: the CHECK is validated
            assert db.session.scalar(VALIDATED) is True
        db.session.rollback()
        with pytest.raises(sa.exc.DatabaseError, match="never change"):
            db.session.execute(
                sa.update(Invoice.__table__)
                .where(Invoice.__table__.c.id == monthly_id)
                .values(lines=[])
            )
        db.session.rollback()
        db.session.remove()
        db.engine.dispose()
    result = run_flask(database, tmp_path, "billing", "check-invoices")
    assert "Every invoice's lines sum to its subtotal." in result.stdout


def test_an_old_invoice_that_does_not_add_up_is_migrated_and_named_by_the_check(database, tmp_path):
    app = portal(database, tmp_path)
    with app.app_context():
        receipt = _invoices()["receipt"]
        receipt_id, number = receipt.id, receipt.number
        db.session.remove()
        db.engine.dispose()
    migrate(database, tmp_path, "downgrade", BEFORE)
    engine = sa.create_engine(database)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO invoice_lines (invoice_id, reseller_id, position, description, "
                "quantity, unit_price, amount) SELECT id, reseller_id, 1, 'Extra', 1, "
                ":price, :price FROM invoices WHERE id = :id"
            ),
            {"id": receipt_id, "price": 12300 if engine.dialect.name == "sqlite" else "1.23"},
        )
    engine.dispose()
    migrate(database, tmp_path, "upgrade")  # migrated, not refused

    with app.app_context():
        lines = db.session.get(Invoice, receipt_id).lines
        assert [line.description for line in lines] == [None, "Extra"]
        if using_postgres():
            assert (
                db.session.scalar(VALIDATED) is False
            )  # new invoices checked, this old one named below
        db.session.remove()
        db.engine.dispose()
    result = run_flask(database, tmp_path, "billing", "check-invoices", check=False)
    assert result.returncode == 1
    assert f"{number} ({receipt_id}): lines " in result.stdout
    assert "1 invoice(s) whose lines do not sum to the subtotal" in result.stderr
