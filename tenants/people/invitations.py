"""Emails to people, each rendered in the recipient's language."""

from __future__ import annotations

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _

from tenants.core.extensions import db
from tenants.core.mail import build_message, deliver
from tenants.jobs.outbox import enqueue
from tenants.models import Member, Reseller, User
from tenants.people import auth


def recipient_language(user: User, reseller: Reseller | None = None) -> str:
    languages = current_app.config["LANGUAGES"]
    for candidate in (user.language, reseller.default_language if reseller else None):
        if candidate in languages:
            return candidate
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def external_url(endpoint: str, **values) -> str:
    """An absolute link for emails, built from PORTAL_URL (jobs run outside any request)."""
    from urllib.parse import urlsplit

    base = urlsplit(current_app.config["PORTAL_URL"])
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path or "/", url_scheme=base.scheme or "http"
    )
    return adapter.build(endpoint, values, force_external=True)


def send_email_template(to: str, language: str, template: str, **context) -> None:
    """Render ``emails/<template>.txt``/``.html`` in ``language`` and deliver."""
    with force_locale(language):
        subject = render_template(f"emails/{template}.subject.txt", **context).strip()
        text = render_template(f"emails/{template}.txt", **context)
        html = render_template(f"emails/{template}.html", **context)
    deliver(build_message(to, subject, text, html))


# -- requests: record a job in the current transaction -------------------------------


def send_password_reset(user: User) -> None:
    enqueue("send_password_reset", user_id=user.id)


def send_invitation(member: Member) -> None:
    enqueue("send_invitation", member_id=member.id)


def send_staff_invitation(user: User, reseller: Reseller | None = None) -> None:
    """Invite staff: of a reseller (named in the email) or of the platform."""
    enqueue("send_invitation", user_id=user.id, reseller_id=reseller.id if reseller else None)


# -- deliveries: run by jobs ------------------------------------------------------------


def deliver_password_reset(user_id: str) -> None:
    user = db.session.get(User, user_id)
    if user is None:
        return
    token = auth.make_password_token(user, auth.PURPOSE_RESET)
    language = recipient_language(user)
    send_email_template(
        user.email,
        language,
        "password_reset",
        user=user,
        link=external_url("auth.reset_password", token=token),
        hours=current_app.config["PASSWORD_RESET_MAX_AGE"] // 3600 or 1,
    )


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
        token = auth.make_password_token(user, auth.PURPOSE_INVITE)
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
