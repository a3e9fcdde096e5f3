"""The platform: overview of resellers, reseller administration and platform staff.

The blueprint lives in blueprint.py; importing each page's module registers its routes.
"""

from reseller.platform import (  # noqa: F401  (register routes)
    billing_runs,
    jobs,
    margin,
    overview,
    resellers,
    security,
    staff,
    wholesale,
)
from reseller.platform.blueprint import bp

__all__ = ["bp"]
