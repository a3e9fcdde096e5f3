"""The Customer app: the reseller's list of its organizations, and creating one.

The blueprint lives in blueprint.py; importing views registers the routes.
"""

from reseller.customers import campaigns, views  # noqa: F401  (register routes)
from reseller.customers.blueprint import bp

__all__ = ["bp"]
