"""The organization blueprint and the lookup every one of its pages starts with."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("organization", __name__, url_prefix="/organizations")
