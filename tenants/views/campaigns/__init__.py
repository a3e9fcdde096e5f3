"""Automated campaigns in the portal: the blueprint and its pages (pages.py): the list,
scheduling, changing, a campaign's runs, cancelling; approving and rejecting for the reseller."""

from __future__ import annotations

from flask import Blueprint

from tenants.views.campaigns import pages

bp = Blueprint("campaigns", __name__, url_prefix="/organizations/<org_id>/campaigns")

bp.add_url_rule("/", "index", pages.index)
bp.add_url_rule("/new", "new", pages.new, methods=["GET", "POST"])
bp.add_url_rule("/<campaign_id>", "detail", pages.detail)
bp.add_url_rule("/<campaign_id>/edit", "edit", pages.edit, methods=["GET", "POST"])
bp.add_url_rule("/<campaign_id>/cancel", "cancel", pages.cancel, methods=["POST"])
bp.add_url_rule("/<campaign_id>/approve", "approve", pages.approve, methods=["POST"])
bp.add_url_rule("/<campaign_id>/reject", "reject", pages.reject, methods=["POST"])
