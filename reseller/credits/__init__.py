"""The reseller's 30-day credits log across all its customers: the blueprint and its pages."""

from __future__ import annotations

from flask import Blueprint

from reseller.credits import views

bp = Blueprint("reseller_credits", __name__, url_prefix="/credits")

bp.add_url_rule("/reseller-log", "reseller_log", views.reseller_log)
bp.add_url_rule("/reseller-log/print", "reseller_log_print", views.reseller_log_print)
bp.add_url_rule("/reseller-log.csv", "reseller_log_csv", views.reseller_log_csv)
