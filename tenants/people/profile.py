"""A person's own account: language and profile."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l

from tenants.access.actors import Actor
from tenants.access.policy import WhileActing, refuse_while_acting
from tenants.audit import log as audit
from tenants.core.checks import collect_field_errors
from tenants.core.errors import ValidationFailed
from tenants.core.extensions import db
from tenants.core.validation import clean_country, clean_mobile, clean_text
from tenants.models import User
from tenants.people import passwords
from tenants.people.identity import PERSONAL_FIELDS, refuse_shared_person_edit


def set_language(user: User, language: str) -> None:
    if language not in current_app.config["LANGUAGES"]:
        raise ValidationFailed(fields={"language": str(_l("Unknown language."))})
    user.language = language
    db.session.flush()


def _unchangeable(name: str) -> Callable[[Any], Any]:
    def refuse(_value: Any) -> Any:
        raise ValidationFailed(fields={name: str(_l("This field cannot be changed."))})

    return refuse


def update_profile(
    user: User, values: dict[str, Any], *, actor: Actor | None = None
) -> dict[str, list]:
    """Change a person's own details; returns ``{field: [before, after]}`` of what changed.

    ``actor`` is who acts (the person, or support staff acting as them); it defaults to
    the person themselves and is recorded in the audit trail.
    """

    def language(value: Any) -> str:
        if value not in current_app.config["LANGUAGES"]:
            raise ValidationFailed(fields={"language": str(_l("Unknown language."))})
        return value

    checks = {
        "name": lambda v: clean_text(v, "name", max_length=200),
        "mobile": lambda v: clean_mobile(v, "mobile"),
        "country": lambda v: clean_country(v) if v else None,
        "company": lambda v: clean_text(v, "company", max_length=200, required=False),
        "language": language,
    }
    clean = collect_field_errors(
        {
            name: partial(checks.get(name, _unchangeable(name)), value)
            for name, value in values.items()
        }
    )
    shared = [k for k in PERSONAL_FIELDS if k in clean and getattr(user, k) != clean[k]]
    if shared and actor is not None and actor.is_acting:
        # Staff acting as the person may not rewrite what other organizations share.
        refuse_shared_person_edit(user, actor.organization_id)
    changes = audit.diff(user, clean)
    if changes:
        db.session.flush()
        audit.record(
            actor or Actor(user_id=user.id),
            "user.profile_updated",
            target_type="user",
            target_id=user.id,
            changes=changes,
        )
    return changes


def change_password(
    user: User, current: str, new: str, *, keep_token: str | None, actor: Actor | None = None
) -> None:
    """Change one's own password: this login stays, every other one ends.

    Support staff acting as the person (login-as) may never do it.
    """
    if actor is not None:
        refuse_while_acting(actor, WhileActing.CHANGE_PASSWORD)
    passwords.change_password(user, current, new, keep_token=keep_token)
    audit.record(
        actor or Actor(user_id=user.id),
        "user.password_changed",
        target_type="user",
        target_id=user.id,
    )
