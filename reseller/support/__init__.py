"""Login-as (remote support): start and end a support session, the re-check, the log.

Routes sit under the organization they act on (``/organizations/<org_id>/support/...``),
under ``/support/`` for the staff member's own session, and under ``/reseller/support/``
for the reseller-wide log and its setting. The blueprint lives in blueprint.py; importing
views registers the routes and the login-as template helpers.
"""

from reseller.support import views  # noqa: F401  (register routes)
from reseller.support.blueprint import bp

__all__ = ["bp"]
