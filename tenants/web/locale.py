"""Language and timezone of a request: the person's choice, the organization shown."""

from __future__ import annotations

from flask import current_app, g, has_request_context, request, session
from flask_babel import get_locale, refresh
from flask_login import current_user

from tenants.models import Organization
from tenants.web.session import current_organization


def select_locale() -> str:
    """The user's saved language, then the session choice, then Accept-Language, then English."""
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user and current_user.is_authenticated and current_user.language in languages:
        return current_user.language
    chosen = session.get("locale")
    if chosen in languages:
        return chosen
    return request.accept_languages.best_match(list(languages)) or "en"


def outage_locale() -> str:
    """The request's language without asking the database (it cannot be reached): the
    session choice, then Accept-Language, then English."""
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    chosen = session.get("locale")
    if chosen in languages:
        return chosen
    return request.accept_languages.best_match(list(languages)) or "en"


def select_timezone() -> str:
    org = getattr(g, "timezone_organization", None)
    if org is None and has_request_context() and current_user.is_authenticated:
        org = current_organization()
    return org.timezone if org else "UTC"


def use_organization_timezone(org: Organization) -> None:
    """Views showing one organization call this so dates appear in its timezone."""
    g.timezone_organization = org
    refresh()


def request_language() -> str:
    """The request's language (Accept-Language, the switcher, the saved language): receipts
    and PDFs a person asks for are issued in it."""
    return str(get_locale() or "en")
