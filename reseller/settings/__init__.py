"""Reseller settings: price list, tax table, seller details, staff, API keys (reseller admins).

The blueprint lives in blueprint.py; importing each page's module registers its routes.
"""

from reseller.settings import (  # noqa: F401  (register routes)
    api_keys,
    margin,
    pricing,
    seller,
    staff,
    wholesale,
)
from reseller.settings.blueprint import bp

__all__ = ["bp"]
