"""An organization's sections (Customer app "View" and the organization's own pages).

The blueprint lives in blueprint.py; importing each section's module registers its routes.
"""

from tenants.views.organization import (  # noqa: F401  (register routes)
    audit,
    change_requests,
    invoices,
    lifecycle,
    logs,
    overview,
    payment,
    saved_card,
    settings,
    statements,
)
from tenants.views.organization.blueprint import bp

__all__ = ["bp"]
