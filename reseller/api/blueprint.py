"""The API blueprint: /api/v1, Bearer keys only, so no CSRF."""

from flask import Blueprint

from tenants.core.extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)
