"""What every credits page starts from: the organization of the URL as the actor reaches it
(shown in its timezone), and the request's language."""

from __future__ import annotations

from flask_babel import get_locale

from tenants.access import scoping
from tenants.access.actors import Actor
from tenants.models import Organization
from tenants.web.decorators import the_actor
from tenants.web.locale import use_organization_timezone


def organization_for_view(org_id: str) -> tuple[Actor, Organization]:
    """The actor and the organization of the URL it reaches (else a 404), in its timezone."""
    actor = the_actor()
    org = scoping.get_organization(actor, org_id)
    use_organization_timezone(org)
    return actor, org


def request_language() -> str:
    """The request's language: receipts and PDFs are issued in it."""
    return str(get_locale() or "en")
