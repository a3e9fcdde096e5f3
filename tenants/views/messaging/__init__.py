"""Send SMS in the portal: the blueprint and its pages (pages.py): the form, its confirmation
step, a message's result, the history with its status filter and CSV."""

from __future__ import annotations

from flask import Blueprint

from tenants.views.messaging import pages

bp = Blueprint("messaging", __name__, url_prefix="/organizations/<org_id>/messages")

bp.add_url_rule("/send", "send", pages.send, methods=["GET", "POST"])
bp.add_url_rule("/", "index", pages.index)
bp.add_url_rule("/messages.csv", "csv", pages.history_csv)
bp.add_url_rule("/<message_id>", "detail", pages.detail)
