"""Contacts in the portal: the blueprint and its pages, endpoint by endpoint.

Contact lists, their contacts, CSV imports and the rejected rows' report (lists.py); the
opt-out list (opt_outs.py). The view modules never import ``bp``: this table registers them.
"""

from __future__ import annotations

from flask import Blueprint

from tenants.views.contacts import lists, opt_outs

bp = Blueprint("contacts", __name__, url_prefix="/organizations/<org_id>/contacts")

GET_POST = ["GET", "POST"]
POST = ["POST"]

bp.add_url_rule("/", "index", lists.index, methods=GET_POST)
bp.add_url_rule("/lists/<list_id>/", "list_page", lists.list_page)
bp.add_url_rule("/lists/<list_id>/contacts", "add_contact", lists.add_contact, methods=POST)
bp.add_url_rule("/lists/<list_id>/import", "import_contacts", lists.import_contacts, methods=POST)
bp.add_url_rule("/lists/<list_id>/rename", "rename_list", lists.rename_list, methods=GET_POST)
bp.add_url_rule("/lists/<list_id>/delete", "delete_list", lists.delete_list, methods=GET_POST)
bp.add_url_rule(
    "/lists/<list_id>/contacts/<contact_id>/edit",
    "edit_contact",
    lists.edit_contact,
    methods=GET_POST,
)
bp.add_url_rule(
    "/lists/<list_id>/contacts/<contact_id>/remove",
    "remove_contact",
    lists.remove_contact,
    methods=POST,
)
bp.add_url_rule("/imports/<import_id>/rejections.csv", "rejections", lists.rejections)
bp.add_url_rule("/opt-outs/", "opt_outs", opt_outs.opt_outs, methods=GET_POST)
bp.add_url_rule("/opt-outs/import", "import_opt_outs", opt_outs.import_opt_outs, methods=POST)
bp.add_url_rule(
    "/opt-outs/<opt_out_id>/remove", "remove_opt_out", opt_outs.remove_opt_out, methods=POST
)

__all__ = ["bp"]
