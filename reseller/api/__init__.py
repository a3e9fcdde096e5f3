"""JSON API v1 for resellers' own systems (SPEC §7): Bearer keys, no cookies, no CSRF."""

from reseller.api import (  # noqa: F401  (register the endpoints)
    billing,
    campaigns,
    contacts,
    credits,
    gateway,
    invoices,
    members,
    messages,
    openapi,
    organizations,
    payments,
    ratelimit,
    reseller_settings,
    usage,
    wholesale,
)
from reseller.api.blueprint import bp
from reseller.api.core import register_error_handlers
from reseller.api.ratelimit import init_rate_limit

register_error_handlers(bp)

__all__ = ["bp", "init_rate_limit"]
