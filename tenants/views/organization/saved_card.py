"""The organization's saved card (automatic top-ups) on its settings page: see it, remove it.

Registered on the organization blueprint; the settings page includes
``organization/_saved_card.html``, which shows the
``saved_card`` the settings view hands it (tenants.web.templating.saved_card_section).
"""

from __future__ import annotations

from flask import flash, redirect, url_for
from flask_babel import gettext as _

from tenants.access.policy import Permission
from tenants.core.errors import DomainError
from tenants.jobs import outbox as queue
from tenants.organizations import operations as organizations
from tenants.views.organization.blueprint import bp
from tenants.web.decorators import actor_required, organization_for_view


@bp.route("/<org_id>/saved-card/remove", methods=["POST"])
@actor_required(Permission.MANAGE_CREDITS)
def remove_saved_card(org_id: str):
    actor, org = organization_for_view(org_id)
    back = redirect(url_for("organization.settings", org_id=org.id) + "#saved-card")
    try:  # the token is checked by CSRFProtect before the view runs
        removed = organizations.remove_saved_card(actor, org)
    except DomainError as error:
        queue.rollback()
        flash(str(error), "danger")
        return back
    queue.commit()
    if removed is None:
        flash(_("No card is saved for this organization."), "info")
    elif removed.auto_top_up_disabled:
        flash(
            _(
                "The card ending in %(last4)s was removed. Automatic top-up is now off: "
                "save a card with your next purchase to switch it on again.",
                last4=removed.last4,
            ),
            "warning",
        )
    else:
        flash(_("The card ending in %(last4)s was removed.", last4=removed.last4), "success")
    return back
