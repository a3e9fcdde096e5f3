"""Reseller settings: price list, tax table, staff, API keys (reseller admins)."""

from flask import Blueprint

bp = Blueprint("reseller_settings", __name__, url_prefix="/reseller/settings")


from reseller.settings import api_keys, pricing, staff  # noqa: E402, F401  (register routes)
