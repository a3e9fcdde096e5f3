"""Invitations: asked for with the change that adds a person, emailed by a job in their language."""

from __future__ import annotations

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from tenants.core.extensions import db
from tenants.jobs.outbox import enqueue
from tenants.jobs.registry import job
from tenants.models import Member, Reseller, User
from tenants.notify.emails import external_url, recipient_language, send_email_template
from tenants.people.passwords import PURPOSE_INVITE, make_password_token

# -- requests: record a job in the current transaction -------------------------------


def send_invitation(member: Member) -> None:
    enqueue("send_invitation", member_id=member.id)


def send_staff_invitation(user: User, reseller: Reseller | None = None) -> None:
    """Invite staff: of a reseller (named in the email) or of the platform."""
    enqueue("send_invitation", user_id=user.id, reseller_id=reseller.id if reseller else None)


# -- delivery: run by a job ---------------------------------------------------------------


@job("send_invitation")
def deliver_invitation(
    member_id: str | None = None, user_id: str | None = None, reseller_id: str | None = None
) -> None:
    member = db.session.get(Member, member_id) if member_id else None
    user = member.user if member else db.session.get(User, user_id)
    if user is None:
        return
    organization = member.organization if member else None
    reseller = organization.reseller if organization else None
    if reseller is None and reseller_id:
        reseller = db.session.get(Reseller, reseller_id)
    language = recipient_language(user, reseller)
    if user.password_hash:
        link = external_url("auth.login")
    else:
        token = make_password_token(user, PURPOSE_INVITE)
        link = external_url("auth.accept_invitation", token=token)
    with force_locale(language):
        if organization is not None:
            place = organization.name
        elif reseller is not None:
            brand = reseller.brand_name or reseller.name
            place = _("the %(reseller)s reseller portal", reseller=brand)
        else:
            place = _("the platform administration")
    send_email_template(
        user.email,
        language,
        "invitation",
        user=user,
        place=place,
        link=link,
        has_password=bool(user.password_hash),
        days=current_app.config["INVITATION_MAX_AGE"] // 86400 or 1,
    )
