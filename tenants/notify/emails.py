"""Emails to people: rendered in the recipient's language, with absolute links and attachments."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from flask import current_app, render_template
from flask_babel import force_locale

from tenants.core.mail import build_message, deliver
from tenants.models import Reseller, User


def recipient_language(user: User, reseller: Reseller | None = None) -> str:
    """The person's own language, else their reseller's default, else the portal's."""
    languages = current_app.config["LANGUAGES"]
    for candidate in (user.language, reseller.default_language if reseller else None):
        if candidate in languages:
            return candidate
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def external_url(endpoint: str, **values) -> str:
    """An absolute link for emails, built from PORTAL_URL (jobs run outside any request)."""
    base = urlsplit(current_app.config["PORTAL_URL"])
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path or "/", url_scheme=base.scheme or "http"
    )
    return adapter.build(endpoint, values, force_external=True)


def send_email_template(
    to: str,
    language: str,
    template: str,
    *,
    attachments: Iterable[tuple[str, str, bytes]] = (),
    **context,
) -> None:
    """Render ``emails/<template>.subject.txt``/``.txt``/``.html`` in ``language`` and deliver,
    with ``(filename, mimetype, data)`` attachments."""
    with force_locale(language):
        subject = render_template(f"emails/{template}.subject.txt", **context).strip()
        text = render_template(f"emails/{template}.txt", **context)
        html = render_template(f"emails/{template}.html", **context)
    deliver(build_message(to, subject, text, html, list(attachments)))
