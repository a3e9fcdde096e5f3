"""Email delivery: SMTP when MAIL_SERVER is set, else .eml files in the outbox folder.

Inside a job (``message_ids_for``) each message's Message-ID is derived from the job's id
and its place among the job's messages: a job run again after a crash sends the same ids,
the outbox folder keeps one file per id, and a mail server or client can drop the copy.
"""

from __future__ import annotations

import os
import re
import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from flask import current_app

from tenants.core.types import utcnow
from tenants.core.validation import unsafe_chars

# Runs of what one-line text refuses (control characters, line breaks, tabs, surrogates).
_NOT_HEADER_TEXT = re.compile(f"[{unsafe_chars(one_line=True)}\\ud800-\\udfff]+")


def header_text(value: str) -> str:
    """``value`` as one clean header line: each run of control characters or line breaks
    becomes one space. Names are refused with a line break at input; this keeps a name
    stored before that rule (or by any other way in) from breaking the message."""
    return " ".join(_NOT_HEADER_TEXT.sub(" ", value).split())


# (job id, messages built so far) while a job runs; None outside jobs.
_JOB_MESSAGES: ContextVar[list | None] = ContextVar("portal_job_messages", default=None)


@contextmanager
def message_ids_for(key: str) -> Iterator[None]:
    """Messages built inside get Message-IDs ``<key>.<n>@portal``, the same on every run."""
    token = _JOB_MESSAGES.set([key, 0])
    try:
        yield
    finally:
        _JOB_MESSAGES.reset(token)


def _message_id() -> str:
    scope = _JOB_MESSAGES.get()
    if scope is None:
        return make_msgid(domain="portal")
    scope[1] += 1
    return f"<{scope[0]}.{scope[1]}@portal>"


def build_message(
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    attachments: list[tuple[str, str, bytes]] | None = None,
) -> EmailMessage:
    """A multipart message: plain text, HTML alternative, then (filename, mimetype, data)."""
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_DEFAULT_SENDER"]
    message["To"] = header_text(to)
    message["Subject"] = header_text(subject)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = _message_id()
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    for filename, mimetype, data in attachments or []:
        maintype, subtype = mimetype.split("/", 1)
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message


def deliver(message: EmailMessage) -> None:
    config = current_app.config
    if not config.get("MAIL_SERVER"):
        _write_to_outbox(message)
        return
    host, port = config["MAIL_SERVER"], config["MAIL_PORT"]
    if config.get("MAIL_USE_SSL"):
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            host, port, timeout=30, context=ssl.create_default_context()
        )
    else:
        smtp = smtplib.SMTP(host, port, timeout=30)
    with smtp:
        if config.get("MAIL_USE_TLS"):
            smtp.starttls(context=ssl.create_default_context())
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
        smtp.send_message(message)


def outbox_dir() -> Path:
    return Path(current_app.config["OUTBOX_DIR"])


def _write_to_outbox(message: EmailMessage) -> None:
    folder = outbox_dir()
    folder.mkdir(parents=True, exist_ok=True)
    msgid = message["Message-ID"].strip("<>").split("@")[0]
    if any(folder.glob(f"*-{msgid}.eml")):
        return  # a job run again after a crash: this message was written already
    stamp = utcnow().strftime("%Y%m%dT%H%M%S%f")
    partial = folder / f".{stamp}-{msgid}.part"
    partial.write_bytes(bytes(message))
    os.replace(partial, folder / f"{stamp}-{msgid}.eml")  # whole or not at all
