"""Prepaid credits in the portal: the blueprint and its pages, endpoint by endpoint.

Balances and history (balance.py), Balance & configuration (balance_configuration.py: seed 003's
one page, from the main navigation), purchases (purchase.py, with its billing step in
purchase_billing.py) with receipts (receipts.py), transfers and withdrawals (moves.py; its
old test SMS address leads to Send SMS), the last 30 days log (log.py). The view modules never
import ``bp``: this table registers them, so no import runs in a loop. The reseller-wide log
is reseller/credits.
"""

from __future__ import annotations

from flask import Blueprint

from tenants.views.credits import (
    balance,
    balance_configuration,
    log,
    moves,
    purchase,
    purchase_billing,
    receipts,
)

bp = Blueprint("credits", __name__, url_prefix="/organizations/<org_id>/credits")

GET_POST = ["GET", "POST"]

bp.add_url_rule("/", "index", balance.index)
bp.add_url_rule("/balance", "balance", balance_configuration.balance)
bp.add_url_rule(
    "/balance/configuration",
    "save_balance_configuration",
    balance_configuration.save_balance_configuration,
    methods=["POST"],
)
bp.add_url_rule("/purchase", "purchase", purchase.purchase, methods=GET_POST)
bp.add_url_rule(
    "/purchase/confirm", "confirm_purchase", purchase.confirm_purchase, methods=["POST"]
)
bp.add_url_rule("/purchase/review", "review_purchase", purchase.review_purchase)
bp.add_url_rule(
    "/purchase/billing", "purchase_billing", purchase_billing.purchase_billing, methods=GET_POST
)
bp.add_url_rule("/purchases/<purchase_id>/pay", "pay", purchase.pay, methods=GET_POST)
bp.add_url_rule(
    "/purchases/<purchase_id>/retry", "retry_purchase", purchase.retry_purchase, methods=["POST"]
)
bp.add_url_rule("/purchases/<purchase_id>/", "purchase_done", purchase.purchase_done)
bp.add_url_rule("/receipts/<invoice_id>.pdf", "receipt_pdf", receipts.receipt_pdf)
bp.add_url_rule("/transfer", "transfer", moves.transfer, methods=GET_POST)
bp.add_url_rule("/withdraw", "withdraw", moves.withdraw, methods=GET_POST)
bp.add_url_rule("/test-sms", "test_sms", moves.test_sms)
bp.add_url_rule("/log", "log", log.log)
bp.add_url_rule("/log.csv", "log_csv", log.log_csv)
bp.add_url_rule("/log/print", "log_print", log.log_print)
