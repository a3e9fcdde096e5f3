"""Small helpers every view uses: the acting user, permission checks, safe redirects."""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import abort
from flask_login import login_required

from tenants.access import scoping
from tenants.access.actors import Actor
from tenants.access.policy import Permission, can
from tenants.models import Organization, Reseller
from tenants.web.locale import use_organization_timezone
from tenants.web.session import current_actor


def actor_required(permission: Permission | None = None):
    """Log-in required, then the role check of tenants.access.policy (403 when it fails)."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            actor = current_actor()
            if actor is None:
                abort(403)
            if "org_id" in kwargs:
                # Another tenant's organization is a 404 before any role check, exactly
                # like one that does not exist (a 403 would say it is there).
                scoping.get_organization(actor, kwargs["org_id"])
            if permission is not None and not can(actor, permission):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def the_actor() -> Actor:
    actor = current_actor()
    if actor is None:
        abort(403)
    return actor


def is_safe_next(target: str | None) -> bool:
    if not target:
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc and target.startswith("/")


def organization_for_view(org_id: str) -> tuple[Actor, Organization]:
    """The actor and the organization of the URL it may see (else a 404), with dates shown in
    the organization's timezone: how every organization page starts."""
    actor = the_actor()
    org = scoping.get_organization(actor, org_id)
    use_organization_timezone(org)
    return actor, org


def current_reseller() -> tuple[Actor, Reseller]:
    """The actor and the reseller whose staff it is (else a 404): reseller settings pages."""
    actor = the_actor()
    return actor, scoping.get_reseller(actor, actor.reseller_id)
