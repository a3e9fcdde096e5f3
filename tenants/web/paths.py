"""Which side of the portal a request is for: the bearer-key API (``/api/…``, JSON answers,
no browser session) or the web pages. One rule for every hook that tells them apart."""

from __future__ import annotations

from flask import request

API_PREFIX = "/api/"


def is_api_request() -> bool:
    """Whether the request is for the API: it answers in JSON and never acts through the
    browser's login, its support session or its CSRF-protected forms."""
    return request.path.startswith(API_PREFIX)
