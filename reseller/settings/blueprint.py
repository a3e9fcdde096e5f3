"""The reseller settings blueprint."""

from flask import Blueprint

bp = Blueprint("reseller_settings", __name__, url_prefix="/reseller/settings")
