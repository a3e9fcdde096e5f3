"""The SMPP receiver (run by ``flask messaging smpp-receiver``): a long-lived receiver bind
takes ``deliver_sm``: delivery receipts (matched to our references by the SMSC's id of each
part, tenants.notify.smpp) and replies from handsets (STOP). Each is answered
``deliver_sm_resp`` only after its handler returns, with a temporary error when the handler
failed, so the SMSC delivers it again.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)
import smpplib.client
import smpplib.consts
import smpplib.exceptions
import smpplib.smpp
from sqlalchemy import select

from tenants.core.extensions import db
from tenants.models import SmppPart
from tenants.notify.smpp import (
    LATIN1_CODING,
    RECEIPT,
    TON_INTERNATIONAL,
    UCS2_CODING,
    UDHI,
    SmppSettings,
    close,
    text_of,
)
from tenants.notify.sms_types import DeliveryReport

log = logging.getLogger(__name__)

TEMPORARY_ERROR = 0x64  # ESME_RX_T_APPN: the SMSC delivers the deliver_sm again later
# stat: of a receipt (SMPP 3.4 appendix B) and message_state TLV values.
FINAL_STATES = {"DELIVRD": "delivered", "UNDELIV": "failed", "EXPIRED": "failed"}
FINAL_STATES |= {"REJECTD": "failed", "DELETED": "failed"}
MESSAGE_STATES = {2: "DELIVRD", 3: "EXPIRED", 4: "DELETED", 5: "UNDELIV", 8: "REJECTD"}


@dataclass(frozen=True)
class Receipt:
    """A delivery receipt: the SMSC's id of a part and its final state (``stat``)."""

    smsc_message_id: str
    state: str
    error: str | None = None


@dataclass(frozen=True)
class InboundSms:
    """A reply from a handset: who sent it, to which of our addresses, and its text."""

    source: str
    destination: str
    text: str


def parse_deliver_sm(pdu) -> Receipt | InboundSms:
    body = pdu.short_message or b""
    if isinstance(body, str):
        body = body.encode("latin-1", "replace")
    if (pdu.esm_class or 0) & RECEIPT:
        text = body.decode("latin-1")
        found = re.search(r"\bid:(\S+)", text)
        smsc_id = text_of(getattr(pdu, "receipted_message_id", None)).strip("\x00")
        smsc_id = smsc_id or (found.group(1) if found else "")
        state = re.search(r"\bstat:(\w+)", text)
        stat = state.group(1).upper() if state else ""
        message_state = getattr(pdu, "message_state", None)
        if not stat and message_state in MESSAGE_STATES:
            stat = MESSAGE_STATES[message_state]
        error = re.search(r"\berr:(\w+)", text)
        return Receipt(smsc_id, stat, f"smpp: {stat} err:{error.group(1)}" if error else None)
    if (pdu.esm_class or 0) & UDHI and body:
        body = body[1 + body[0] :]
    coding = pdu.data_coding or 0
    if coding == UCS2_CODING:
        text = body.decode("utf-16-be", "replace")
    elif coding == LATIN1_CODING:
        text = body.decode("latin-1")
    else:
        try:
            text = body.decode("gsm03.38")
        except (UnicodeDecodeError, ValueError):
            text = body.decode("latin-1")
    source = text_of(pdu.source_addr)
    if pdu.source_addr_ton == TON_INTERNATIONAL and source.isdigit():
        source = f"+{source}"
    return InboundSms(source, text_of(pdu.destination_addr), text)


def reports_for(receipts: list[Receipt]) -> list[DeliveryReport]:
    """Our delivery reports for receipts of parts we submitted: a failed part fails its
    message; the last part's delivery delivers it. Unknown ids and other states: none."""
    wanted = {r.smsc_message_id: r for r in receipts if r.state in FINAL_STATES}
    if not wanted:
        return []
    rows = db.session.execute(
        select(SmppPart.smsc_message_id, SmppPart.reference, SmppPart.part, SmppPart.parts).where(
            SmppPart.smsc_message_id.in_(list(wanted))
        )
    ).all()
    reports = []
    for smsc_id, reference, part, parts in rows:
        receipt = wanted[smsc_id]
        status = FINAL_STATES[receipt.state]
        if status == "failed":
            reports.append(DeliveryReport(reference, status, receipt.error))
        elif part == parts:
            reports.append(DeliveryReport(reference, status, None))
    return reports


Handler = Callable[[Receipt | InboundSms], bool]


class SmppReceiver:
    """A receiver bind that hands every deliver_sm to ``handler`` (True: done; False: the
    SMSC is told to deliver it again) until ``stop()`` says so; it binds again after a
    lost connection, waiting a little longer each time (at most a minute)."""

    def __init__(self, settings: SmppSettings, handler: Handler) -> None:
        self.settings, self.handler = settings, handler

    def run(self, stop: Callable[[], bool]) -> None:
        delay = 1.0
        while not stop():
            client = self.settings.client()
            client.set_message_received_handler(self._on_deliver)
            try:
                self.settings.bind(client, "bind_receiver")
                delay = 1.0
                while not stop():
                    self._read(client)
            except (smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError, OSError) as e:
                log.warning("SMPP receiver: %s; binding again in %.0f s", e, delay)
                close(client)
                time.sleep(delay)
                delay = min(delay * 2, 60.0)
                continue
            close(client)

    def _read(self, client: smpplib.client.Client) -> None:
        try:
            client.read_once(auto_send_enquire_link=False)
        except TimeoutError:
            client.send_pdu(smpplib.smpp.make_pdu("enquire_link", client=client))

    def _on_deliver(self, pdu, **_kwargs) -> int:
        try:
            event = parse_deliver_sm(pdu)
        except Exception:  # a PDU we cannot read: accepted, logged, never redelivered forever
            log.exception("SMPP receiver: unreadable deliver_sm")
            return smpplib.consts.SMPP_ESME_ROK
        return smpplib.consts.SMPP_ESME_ROK if self.handler(event) else TEMPORARY_ERROR
