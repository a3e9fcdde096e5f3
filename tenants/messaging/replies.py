"""What the SMSC delivers to us: receipts of what we sent, and replies from handsets.

A receipt becomes a delivery report (tenants.messaging.reports: a failed message's credits
come back once). A reply whose first word is a stop keyword (STOP, BAJA, …) puts its number
on the opt-out list of the organization that last sent to that number (to the address the
reply was sent to, when one of its messages came from there); any other reply is logged and
dropped. ``flask messaging smpp-receiver`` runs the SMPP receiver with ``handle``.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable

from click import echo
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from tenants.contacts.operations import record_stop_reply
from tenants.core.extensions import db
from tenants.jobs.outbox import commit, rollback
from tenants.messaging.reports import apply_reports
from tenants.models import Message, MessageRecipient
from tenants.notify.smpp import SmppSettings
from tenants.notify.smpp_receiver import InboundSms, Receipt, SmppReceiver, reports_for

log = logging.getLogger(__name__)

# The first word of a reply that opts its sender out (CTIA's list, and Spanish BAJA).
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "BAJA"})


def is_stop(text: str) -> bool:
    words = text.strip().split(maxsplit=1)
    return bool(words) and words[0].strip(".,;:!¡?¿\"'").upper() in STOP_WORDS


def sender_of_last_message(number: str, to_address: str | None = None) -> str | None:
    """The organization whose latest message went to ``number`` (from ``to_address`` when
    one of them did), or None when none did."""
    query = (
        select(Message.organization_id)
        .join(MessageRecipient, MessageRecipient.message_id == Message.id)
        .where(MessageRecipient.number == number)
        .order_by(MessageRecipient.id.desc())
        .limit(1)
    )
    if to_address:
        named = db.session.scalar(query.where(Message.sender == to_address))
        if named is not None:
            return named
    return db.session.scalar(query)


def receive_reply(source: str, destination: str, text: str) -> bool:
    """A reply from ``source``: True when it opted the number out (newly)."""
    if not is_stop(text):
        log.info("reply from %s to %s ignored: not a stop keyword", source, destination)
        return False
    number = source if source.startswith("+") else f"+{source}"
    organization_id = sender_of_last_message(number, destination)
    if organization_id is None:
        log.info("STOP from %s: no organization sent to this number", number)
        return False
    return record_stop_reply(organization_id, number)


def handle(event: Receipt | InboundSms) -> bool:
    """Apply one receipt or reply and commit; False (rolled back) when that failed, so the
    SMSC delivers it again."""
    try:
        if isinstance(event, Receipt):
            apply_reports(reports_for([event]))
        else:
            receive_reply(event.source, event.destination, event.text)
        commit()
    except Exception:
        log.exception("could not apply what the SMSC delivered: %r", event)
        rollback()
        return False
    return True


def run_receiver(stop: Callable[[], bool]) -> None:
    """The SMPP receiver with ``handle``, until ``stop()``; each event in its own unit."""
    app = current_app._get_current_object()

    def in_context(event: Receipt | InboundSms) -> bool:
        with app.app_context():
            return handle(event)

    SmppReceiver(SmppSettings.from_config(app.config), in_context).run(stop)


messaging_cli = AppGroup("messaging", help="Send SMS: what runs beside the workers.")


@messaging_cli.command("smpp-receiver")
def smpp_receiver_command() -> None:
    """Bind to the SMSC as a receiver: delivery receipts and STOP replies (SMS_GATEWAY=smpp),
    until interrupted."""
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    echo(f"SMPP receiver: {current_app.config['SMPP_HOST']}:{current_app.config['SMPP_PORT']}")
    try:
        run_receiver(stopping.is_set)
    except KeyboardInterrupt:
        stopping.set()
