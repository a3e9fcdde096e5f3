"""The organization blueprint and the lookup every one of its pages starts with."""

from __future__ import annotations

from flask import Blueprint

from tenants.access import scoping
from tenants.web.decorators import the_actor
from tenants.web.locale import use_organization_timezone

bp = Blueprint("organization", __name__, url_prefix="/organizations")


def organization_for_view(org_id: str):
    """The actor and the organization it may see (else a 404), in the organization's timezone."""
    actor = the_actor()
    org = scoping.get_organization(actor, org_id)
    use_organization_timezone(org)
    return actor, org
