"""A person's own account: language and profile."""

from __future__ import annotations

from flask import current_app

from tenants.errors import ValidationFailed
from tenants.extensions import db
from tenants.models import User


def set_language(user: User, language: str) -> None:
    if language not in current_app.config["LANGUAGES"]:
        raise ValidationFailed(fields={"language": "unknown language"})
    user.language = language
    db.session.flush()
