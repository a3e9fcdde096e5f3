"""The SMPP 3.4 gateway: the protocol SMS carriers (SMSCs) speak, through smpplib.

Sending (``SmppGateway``, ``SMS_GATEWAY=smpp``): the workers bind as a transmitter and submit
each message as one ``submit_sm`` per part (GSM 03.38 in the SMSC default alphabet, else
UCS-2; a long text in parts of 153 septets or 67 UTF-16 units with a concatenation header,
never splitting an extension character or a surrogate pair), asking for a delivery receipt.
Each part is remembered in ``smpp_parts`` — committed before it is submitted — so a
reference handed over again (a worker that crashed mid-batch) is not submitted twice; a
part the SMSC refused or never saw is forgotten again, so the retried job submits it.

Receiving (receipts and replies) is tenants.notify.smpp_receiver.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)
import smpplib.client
import smpplib.consts
import smpplib.exceptions
import smpplib.smpp
from sqlalchemy import delete, insert, select, update

from tenants.core.extensions import db
from tenants.core.types import new_id, utcnow
from tenants.models import SmppPart
from tenants.notify.sms_types import DeliveryReport, OutgoingSms, SmsGatewayError

GSM_CODING, LATIN1_CODING, UCS2_CODING = 0x00, 0x03, 0x08
UDHI = 0x40  # esm_class: short_message starts with a user data header
RECEIPT = 0x04  # esm_class: an SMSC delivery receipt
ESCAPE = 0x1B
# (alone, per part) in bytes of short_message: GSM one byte a septet, UCS-2 two a unit.
SIZES = {GSM_CODING: (160, 153), UCS2_CODING: (140, 134)}
TON_INTERNATIONAL, TON_ALPHANUMERIC = 1, 5
NPI_E164, NPI_UNKNOWN = 1, 0


def encode_parts(text: str) -> tuple[int, list[bytes]]:
    """The data_coding and the short_message of each part of ``text``."""
    try:
        coding, encoded = GSM_CODING, text.encode("gsm03.38")
    except (UnicodeEncodeError, ValueError):
        coding, encoded = UCS2_CODING, text.encode("utf-16-be")
    single, size = SIZES[coding]
    if len(encoded) <= single:
        return coding, [encoded]
    chunks, start = [], 0
    while start < len(encoded):
        end = min(start + size, len(encoded))
        if end < len(encoded) and _splits_a_character(encoded, end, coding):
            end -= 1 if coding == GSM_CODING else 2
        chunks.append(encoded[start:end])
        start = end
    if len(chunks) > 255:
        raise SmsGatewayError("SMPP: the text is too long for a concatenated message")
    ref = random.randrange(256)
    header = bytes([0x05, 0x00, 0x03, ref, len(chunks)])
    return coding, [header + bytes([i]) + chunk for i, chunk in enumerate(chunks, 1)]


def _splits_a_character(encoded: bytes, end: int, coding: int) -> bool:
    """Whether a part ending at ``end`` would cut an escape pair (GSM: an extension character
    such as €) or a surrogate pair (UCS-2: an emoji)."""
    if coding == GSM_CODING:
        escapes = len(encoded[:end]) - len(encoded[:end].rstrip(bytes([ESCAPE])))
        return escapes % 2 == 1
    return 0xD8 <= encoded[end - 2] <= 0xDB


def _source(sender: str) -> dict:
    """A number as an international address, a name as an alphanumeric one (≤ 11)."""
    digits = sender.removeprefix("+")
    if digits.isdigit():
        return {
            "source_addr_ton": TON_INTERNATIONAL,
            "source_addr_npi": NPI_E164,
            "source_addr": digits,
        }
    return {
        "source_addr_ton": TON_ALPHANUMERIC,
        "source_addr_npi": NPI_UNKNOWN,
        "source_addr": sender[:11],
    }


def text_of(value) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else str(value or "")


@dataclass(frozen=True)
class SmppSettings:
    host: str
    port: int
    system_id: str
    password: str
    system_type: str = ""
    default_sender: str = "SMS"
    timeout: float = 10.0

    @classmethod
    def from_config(cls, config) -> SmppSettings:
        if not config.get("SMPP_HOST"):
            raise SmsGatewayError("SMPP: SMPP_HOST is not set")
        return cls(
            config["SMPP_HOST"],
            int(config.get("SMPP_PORT") or 2775),
            config.get("SMPP_SYSTEM_ID") or "",
            config.get("SMPP_PASSWORD") or "",
            config.get("SMPP_SYSTEM_TYPE") or "",
            config.get("SMPP_DEFAULT_SENDER") or "SMS",
            float(config.get("SMPP_TIMEOUT_SECONDS") or 10),
        )

    def client(self) -> smpplib.client.Client:
        return smpplib.client.Client(
            self.host, self.port, timeout=self.timeout, allow_unknown_opt_params=True
        )

    def bind(self, client: smpplib.client.Client, how: str) -> None:
        client.connect()
        getattr(client, how)(
            system_id=self.system_id, password=self.password, system_type=self.system_type
        )


@dataclass
class _Part:
    row_id: str
    reference: str
    number: int
    fields: dict


class SmppGateway:
    """Submits messages to an SMSC; its receipts arrive at the receiver (``SmppReceiver``)."""

    name = "smpp"

    def __init__(self, settings: SmppSettings) -> None:
        self.settings = settings

    def send(self, to: str, text: str) -> str | None:
        return self.send_batch([OutgoingSms(to, text, new_id("ref"))])[0]

    def take_reports(self) -> list[DeliveryReport]:
        return []  # receipts come to the receiver bind

    def send_batch(self, messages: list[OutgoingSms]) -> list[str | None]:
        table = SmppPart.__table__
        references = [m.reference for m in messages]
        with db.engine.connect() as connection:
            known = connection.execute(
                select(table.c.reference, table.c.smsc_message_id).where(
                    table.c.reference.in_(references), table.c.part == 1
                )
            ).all()
        ids: dict[str, str | None] = dict(known)
        fresh = [m for m in messages if m.reference not in ids]
        if fresh:
            client = self.settings.client()
            try:
                self.settings.bind(client, "bind_transmitter")
            except (smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError, OSError) as e:
                close(client)
                raise SmsGatewayError(f"SMPP: could not bind: {e}") from e
            try:
                ids |= self._submit(client, self._remember(fresh))
            finally:
                close(client)
        return [ids.get(m.reference) for m in messages]

    def _remember(self, messages: list[OutgoingSms]) -> list[_Part]:
        """Every part, written and committed before anything is submitted."""
        parts: list[_Part] = []
        for m in messages:
            coding, bodies = encode_parts(m.text)
            address = {"dest_addr_ton": TON_INTERNATIONAL, "dest_addr_npi": NPI_E164}
            address["destination_addr"] = m.to.removeprefix("+")
            for number, body in enumerate(bodies, 1):
                fields = {
                    **_source(m.sender or self.settings.default_sender),
                    **address,
                    "short_message": body,
                    "data_coding": coding,
                    "esm_class": UDHI if len(bodies) > 1 else 0,
                    "registered_delivery": 1,
                }
                parts.append(_Part(new_id("smp"), m.reference, number, fields))
        now = utcnow()
        rows = [
            {
                "id": p.row_id,
                "reference": p.reference,
                "part": p.number,
                "parts": sum(1 for q in parts if q.reference == p.reference),
                "submitted_at": now,
            }
            for p in parts
        ]
        with db.engine.begin() as connection:
            connection.execute(insert(SmppPart.__table__), rows)
        return parts

    def _submit(self, client: smpplib.client.Client, parts: list[_Part]) -> dict[str, str]:
        """Submit each part and wait for its answer; the first part's SMSC id per reference."""
        answered: dict[str, str] = {}
        ids: dict[str, str] = {}
        for index, part in enumerate(parts):
            try:
                sent = client.send_message(**part.fields)
                response = _response_to(client, sent.sequence)
            except (smpplib.exceptions.ConnectionError, OSError) as error:
                # The part in flight may have gone: kept (never twice); the rest never did.
                _forget(parts[index + 1 :])
                _record(answered)
                raise SmsGatewayError(f"SMPP: the connection was lost: {error}") from error
            if response.status != smpplib.consts.SMPP_ESME_ROK:
                _forget(parts[index:])  # refused (throttled, …): the retried job submits it
                _record(answered)
                raise SmsGatewayError(f"SMPP: submit_sm refused with status {response.status:#x}")
            smsc_id = text_of(response.message_id).strip("\x00")
            answered[part.row_id] = smsc_id
            if part.number == 1:
                ids[part.reference] = smsc_id
        _record(answered)
        return ids


def _response_to(client: smpplib.client.Client, sequence: int):
    """The submit_sm_resp of ``sequence``, answering the SMSC's enquire_link meanwhile."""
    while True:
        try:
            pdu = client.read_pdu()
        except TimeoutError as error:
            raise smpplib.exceptions.ConnectionError("no answer to submit_sm") from error
        if pdu.command == "submit_sm_resp" and pdu.sequence == sequence:
            return pdu
        if pdu.command == "enquire_link":
            client._enquire_link_received(pdu)
        elif pdu.command in ("unbind", "generic_nack"):
            raise smpplib.exceptions.ConnectionError(f"the SMSC sent {pdu.command}")


def _record(answered: dict[str, str]) -> None:
    if not answered:
        return
    table = SmppPart.__table__
    with db.engine.begin() as connection:
        for row_id, smsc_id in answered.items():
            connection.execute(
                update(table).where(table.c.id == row_id).values(smsc_message_id=smsc_id[:65])
            )


def _forget(parts: list[_Part]) -> None:
    if parts:
        table = SmppPart.__table__
        with db.engine.begin() as connection:
            connection.execute(delete(table).where(table.c.id.in_([p.row_id for p in parts])))


BOUND = (
    smpplib.consts.SMPP_CLIENT_STATE_BOUND_TX,
    smpplib.consts.SMPP_CLIENT_STATE_BOUND_RX,
    smpplib.consts.SMPP_CLIENT_STATE_BOUND_TRX,
)


def close(client: smpplib.client.Client) -> None:
    """Unbind (when bound) and disconnect, whatever state the connection is in."""
    try:
        if getattr(client, "state", None) in BOUND:
            client.unbind()
    except (smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError, OSError):
        pass
    client.disconnect()
