"""Which side of the portal a request is for: the bearer-key API (``/api/…``, JSON answers,
no browser session) or the web pages. One rule for every hook that tells them apart."""

from __future__ import annotations

from flask import Flask, Request, Response, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin

API_PREFIX = "/api/"


def is_api_path(path: str) -> bool:
    """Whether ``path`` is the API's: it answers in JSON and never acts through the
    browser's login, its support session or its CSRF-protected forms."""
    return path.startswith(API_PREFIX)


def is_api_request() -> bool:
    """Whether this request is for the API (is_api_path)."""
    return is_api_path(request.path)


class PortalSessionInterface(SecureCookieSessionInterface):
    """The browser's signed-cookie session, neither read nor written for the API: an API
    request gets an empty session that is never saved. Opening the cookie's session built
    its signing serializer anew on every request (about 2 % of a usage charge's CPU)."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if is_api_path(request.path):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if not is_api_request():
            super().save_session(app, session, response)
