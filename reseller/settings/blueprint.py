"""The reseller settings blueprint, and the tabs its pages share."""

from flask import Blueprint, current_app

bp = Blueprint("reseller_settings", __name__, url_prefix="/reseller/settings")


@bp.context_processor
def settings_tabs() -> dict:
    """The tabs of the settings pages; API keys only once its page is registered."""
    return {"url_endpoints": current_app.view_functions.keys()}
