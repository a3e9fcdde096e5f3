"""The organization's saved card (automatic top-ups) on its settings page: see it, remove it.

Registered on the organization blueprint; the settings page includes
``organization/_saved_card.html``, which shows the
``saved_card`` the settings view hands it (saved_card_section below).
"""

from __future__ import annotations

from flask import flash, redirect, url_for
from flask_babel import gettext as _

from tenants.access.policy import Permission, WhileActing, can, refused_while_acting
from tenants.core.errors import DomainError
from tenants.credits import topups
from tenants.jobs import outbox as queue
from tenants.models import Organization, PricingModel
from tenants.organizations import operations as organizations
from tenants.views.organization.blueprint import bp
from tenants.web.decorators import actor_required, organization_for_view, the_actor
from tenants.web.forms import RemoveCardForm

# Card networks' own names (not translated).
CARD_BRANDS = {
    "visa": "Visa",
    "mastercard": "Mastercard",
    "amex": "American Express",
    "discover": "Discover",
}


def brand_name(brand: str | None) -> str:
    return CARD_BRANDS.get(brand or "", "") or _("Card")


def saved_card_section(org: Organization) -> dict:
    """What organization/_saved_card.html shows: the card (or none), the automatic top-up,
    may it be removed (POST organization.remove_saved_card)."""
    actor = the_actor()
    card = topups.describe_saved_card(org)
    return {
        "shown": org.pricing_model == PricingModel.PREPAID or card is not None,
        "card": card,
        "brand": brand_name(card.brand) if card else None,
        "can_remove": card is not None and can(actor, Permission.MANAGE_CREDITS),
        "acting": refused_while_acting(actor, WhileActing.CHANGE_SAVED_CARD),
        "form": RemoveCardForm(formdata=None),
    }


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
