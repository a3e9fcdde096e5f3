"""A small SMSC on loopback for the SMPP gateway's tests, built on smpplib's PDU codec.

It speaks real SMPP 3.4 over TCP: binds (transmitter, receiver, transceiver; a wrong
password is refused), answers submit_sm with an id of its own, and sends deliver_sm —
delivery receipts for what asked for one (numbers ending in 0000: UNDELIV, else DELIVRD)
and replies from handsets (``send_reply``) — to a bound receiver, holding them until one
binds. It records what it was sent and how each deliver_sm was answered.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time

import smpplib.consts
import smpplib.smpp

RECEIPT = 0x04  # esm_class of an SMSC delivery receipt


class _Sequence:
    """The "client" smpplib's PDUs take their sequence numbers from."""

    def __init__(self) -> None:
        self.sequence = 0
        self._lock = threading.Lock()

    def next_sequence(self) -> int:
        with self._lock:
            self.sequence += 1
            return self.sequence


class SmppServer:
    FAILING_SUFFIX = "0000"

    def __init__(self, system_id: str, password: str) -> None:
        self.system_id, self.password = system_id, password
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.submitted: list = []  # submit_sm PDUs, parsed
        self.answers: list[int] = []  # the status of every deliver_sm_resp
        self.binds: list[str] = []
        self.refuse_next: int | None = None  # the next submit_sm gets this status
        self.auto_receipts = True
        self._seq = _Sequence()
        self._lock = threading.Lock()
        self._receivers: list[socket.socket] = []
        self._held: list[bytes] = []
        self._connections: list[socket.socket] = []
        self._stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    # -- what a test does ------------------------------------------------------------------

    def send_reply(self, source: str, destination: str, text: str) -> None:
        """A handset's reply (an MO message) from ``source`` (digits, international)."""
        self._deliver(
            smpplib.smpp.make_pdu(
                "deliver_sm",
                client=self._seq,
                source_addr_ton=1,
                source_addr_npi=1,
                source_addr=source,
                dest_addr_ton=5 if not destination.isdigit() else 1,
                destination_addr=destination,
                esm_class=0,
                data_coding=0,
                short_message=text.encode("gsm03.38"),
            )
        )

    def send_receipt(self, smsc_id: str, stat: str, destination: str = "34600000000") -> None:
        states = {"DELIVRD": 2, "EXPIRED": 3, "DELETED": 4, "UNDELIV": 5, "REJECTD": 8}
        now = time.strftime("%y%m%d%H%M")
        done = stat == "DELIVRD"
        body = (
            f"id:{smsc_id} sub:001 dlvrd:{'001' if done else '000'} submit date:{now} "
            f"done date:{now} stat:{stat} err:{'000' if done else '001'} text:"
        )
        self._deliver(
            smpplib.smpp.make_pdu(
                "deliver_sm",
                client=self._seq,
                source_addr_ton=1,
                source_addr_npi=1,
                source_addr=destination,
                dest_addr_ton=5,
                destination_addr="portal",
                esm_class=RECEIPT,
                short_message=body.encode("ascii"),
                receipted_message_id=smsc_id,
                message_state=states.get(stat, 7),
            )
        )

    def wait_for(self, condition, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError("the SMPP server waited in vain")
            time.sleep(0.02)

    def close(self) -> None:
        self._stopped = True
        self.listener.close()
        for connection in list(self._connections):
            with contextlib.suppress(OSError):
                connection.close()

    # -- the protocol ------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._stopped:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self._connections.append(connection)
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        try:
            while True:
                head = _read(connection, 4)
                (length,) = struct.unpack(">L", head)
                raw = head + _read(connection, length - 4)
                pdu = smpplib.smpp.parse_pdu(raw, client=self._seq, allow_unknown_opt_params=True)
                if not self._answer(connection, pdu):
                    return
        except (OSError, ConnectionError):
            return
        finally:
            with self._lock:
                if connection in self._receivers:
                    self._receivers.remove(connection)
            connection.close()

    def _answer(self, connection: socket.socket, pdu) -> bool:
        command = pdu.command
        if command.startswith("bind_"):
            ok = _text(pdu.password) == self.password and _text(pdu.system_id) == self.system_id
            status = smpplib.consts.SMPP_ESME_ROK if ok else smpplib.consts.SMPP_ESME_RINVPASWD
            self._send(connection, self._response(f"{command}_resp", pdu, status, system_id="smsc"))
            if ok:
                self.binds.append(command)
                if command in ("bind_receiver", "bind_transceiver"):
                    self._bound_receiver(connection)
            return ok
        if command == "submit_sm":
            self._submitted(connection, pdu)
        elif command == "deliver_sm_resp":
            self.answers.append(pdu.status)
        elif command == "enquire_link":
            self._send(connection, self._response("enquire_link_resp", pdu))
        elif command == "unbind":
            self._send(connection, self._response("unbind_resp", pdu))
            return False
        return True

    def _submitted(self, connection: socket.socket, pdu) -> None:
        if self.refuse_next is not None:
            status, self.refuse_next = self.refuse_next, None
            self._send(connection, self._response("submit_sm_resp", pdu, status, message_id=""))
            return
        smsc_id = f"SMSC{len(self.submitted) + 1:06d}"
        self.submitted.append(pdu)
        self._send(connection, self._response("submit_sm_resp", pdu, message_id=smsc_id))
        if self.auto_receipts and pdu.registered_delivery:
            number = _text(pdu.destination_addr)
            stat = "UNDELIV" if number.endswith(self.FAILING_SUFFIX) else "DELIVRD"
            self.send_receipt(smsc_id, stat, number)

    def _response(self, command: str, request, status: int = 0, **fields):
        pdu = smpplib.smpp.make_pdu(command, client=self._seq, status=status, **fields)
        pdu.sequence = request.sequence  # (smpplib ignores a sequence given as a keyword)
        return pdu

    def _deliver(self, pdu) -> None:
        raw = pdu.generate()
        with self._lock:
            if not self._receivers:
                self._held.append(raw)
                return
            receiver = self._receivers[0]
        self._send_raw(receiver, raw)

    def _bound_receiver(self, connection: socket.socket) -> None:
        with self._lock:
            self._receivers.append(connection)
            held, self._held = self._held, []
        for raw in held:
            self._send_raw(connection, raw)

    def _send(self, connection: socket.socket, pdu) -> None:
        self._send_raw(connection, pdu.generate())

    def _send_raw(self, connection: socket.socket, raw: bytes) -> None:
        with self._lock:
            connection.sendall(raw)


def _read(connection: socket.socket, size: int) -> bytes:
    chunks, got = [], 0
    while got < size:
        chunk = connection.recv(size - got)
        if not chunk:
            raise ConnectionError("closed")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _text(value) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else str(value or "")
