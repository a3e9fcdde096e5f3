"""JSON API v1 for resellers' own systems (SPEC §7): Bearer keys, no cookies, no CSRF."""

from flask import Blueprint

from tenants.core.extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

from reseller.api import (  # noqa: E402, F401  (register the endpoints)
    credits,
    invoices,
    members,
    openapi,
    organizations,
    payments,
    reseller_settings,
)
from reseller.api.core import register_error_handlers  # noqa: E402

register_error_handlers(bp)
