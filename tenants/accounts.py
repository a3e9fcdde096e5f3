"""A person's own account: language and profile."""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l

from tenants.errors import ValidationFailed
from tenants.extensions import db
from tenants.models import User


def set_language(user: User, language: str) -> None:
    if language not in current_app.config["LANGUAGES"]:
        raise ValidationFailed(fields={"language": str(_l("Unknown language."))})
    user.language = language
    db.session.flush()
