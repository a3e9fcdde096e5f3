"""A test SMS from the portal: recorded and charged as usage, one credit per segment (the
gateway is not involved)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from tenants.access.actors import Actor
from tenants.core.checks import collect_field_errors
from tenants.core.errors import ValidationFailed
from tenants.core.types import new_id
from tenants.core.validation import clean_mobile, clean_text
from tenants.credits import operations as credits
from tenants.models import LedgerEntry, Organization

SINGLE_SEGMENT = 160
CONCATENATED_SEGMENT = 153  # each part of a long SMS loses 7 characters to its header
MAX_MESSAGE = 1600


def segments(message: str) -> int:
    """Credits an SMS costs: one per 160 characters, or per 153 once it is split."""
    length = len(message)
    if length <= SINGLE_SEGMENT:
        return 1
    return -(-length // CONCATENATED_SEGMENT)


def send_test_sms(
    actor: Actor, org: Organization, *, recipient, message, account=None
) -> LedgerEntry:
    """Record the usage of a test SMS; refused whole when credits are short (402)."""
    checked = collect_field_errors(
        {
            "recipient": lambda: clean_mobile(recipient, "recipient", required=True),
            "message": lambda: clean_text(
                message, "message", max_length=MAX_MESSAGE, one_line=False
            ),
        }
    )
    number, text = checked["recipient"], checked["message"]
    if not text:
        raise ValidationFailed(fields={"message": str(_l("This field is required."))})
    # Each test SMS is a new usage: its reference (charged once, like any) is its own.
    return credits.record_usage(
        actor,
        org,
        credits=segments(text),
        reference=f"test-sms:{number}:{new_id('sms')[-10:]}",
        account=account,
    ).entry
