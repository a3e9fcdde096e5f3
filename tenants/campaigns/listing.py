"""What the campaign list and the API show of each campaign: its next run (time and credits
reserved), its last run and that run's report (sent, delivered, failed, credits)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from tenants.core.extensions import db
from tenants.messaging.history import recipient_counts
from tenants.models import Campaign, CampaignRun, CampaignStatus, Message, Repeat, RunStatus


@dataclass(frozen=True)
class Report:
    sent: int  # recipients handed to the gateway
    delivered: int
    failed: int
    credits: int  # charged, less the refunds of failed messages
    skipped: int  # opted out: not sent, not charged


@dataclass(frozen=True)
class CampaignLine:
    campaign: Campaign
    next_run: CampaignRun | None
    last_run: CampaignRun | None
    report: Report | None  # the last run's, when it was sent

    @property
    def reserved_credits(self) -> int:
        return self.next_run.reserved if self.next_run is not None else 0


def reports(messages: Sequence[Message]) -> dict[str, Report]:
    """Each message's report, by message id."""
    counts = recipient_counts([m.id for m in messages])
    found = {}
    for message in messages:
        c = counts[message.id]
        found[message.id] = Report(
            sent=c["sent"] + c["delivered"] + c["failed"],
            delivered=c["delivered"],
            failed=c["failed"],
            credits=message.credits - message.refunded,
            skipped=message.skipped,
        )
    return found


def run_report(run: CampaignRun) -> Report | None:
    message = db.session.get(Message, run.message_id) if run.message_id else None
    return reports([message])[message.id] if message is not None else None


def campaign_lines(campaigns: Sequence[Campaign]) -> list[CampaignLine]:
    """The campaigns' lines, in the order given: three queries whatever their number."""
    ids = [c.id for c in campaigns]
    runs = (
        list(db.session.scalars(select(CampaignRun).where(CampaignRun.campaign_id.in_(ids))))
        if ids
        else []
    )
    upcoming: dict[str, CampaignRun] = {}
    latest: dict[str, CampaignRun] = {}
    for run in runs:
        if run.status == RunStatus.SCHEDULED:
            upcoming[run.campaign_id] = run
        elif run.status in (RunStatus.SENT, RunStatus.NOT_SENT):
            known = latest.get(run.campaign_id)
            if known is None or run.occurrence > known.occurrence:
                latest[run.campaign_id] = run
    message_ids = [r.message_id for r in latest.values() if r.message_id]
    messages = (
        list(db.session.scalars(select(Message).where(Message.id.in_(message_ids))))
        if message_ids
        else []
    )
    by_message = reports(messages)
    return [
        CampaignLine(
            campaign=c,
            next_run=upcoming.get(c.id),
            last_run=latest.get(c.id),
            report=by_message.get(latest[c.id].message_id) if c.id in latest else None,
        )
        for c in campaigns
    ]


def campaign_line(campaign: Campaign) -> CampaignLine:
    return campaign_lines([campaign])[0]


def runs_of(campaign: Campaign) -> list[CampaignRun]:
    """Every run of the campaign, newest first (the detail page's history)."""
    return list(
        db.session.scalars(
            select(CampaignRun)
            .where(CampaignRun.campaign_id == campaign.id)
            .order_by(CampaignRun.occurrence.desc())
        )
    )


# What people read for the stored keys (statuses, repeats), in their language.
STATUS_LABELS = {
    CampaignStatus.PENDING_APPROVAL: _l("Waiting for approval"),
    CampaignStatus.SCHEDULED: _l("Scheduled"),
    CampaignStatus.RUNNING: _l("Running"),
    CampaignStatus.DONE: _l("Done"),
    CampaignStatus.CANCELLED: _l("Cancelled"),
    CampaignStatus.REJECTED: _l("Rejected"),
}
REPEAT_LABELS = {
    Repeat.NONE: _l("Once"),
    Repeat.DAILY: _l("Daily"),
    Repeat.WEEKLY: _l("Weekly"),
    Repeat.MONTHLY: _l("Monthly"),
}
RUN_LABELS = {
    RunStatus.SCHEDULED: _l("Scheduled"),
    RunStatus.SENT: _l("Sent"),
    RunStatus.NOT_SENT: _l("Not sent"),
    RunStatus.CANCELLED: _l("Cancelled"),
}
