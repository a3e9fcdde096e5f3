"""An organization's sections (its tabs), in order: the one list the tabs, the Customer app's
shortcuts and the check of who may open each (tenants.web.visible_sections) all read."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString


@dataclass(frozen=True)
class Section:
    key: str  # what views name as their active_section
    endpoint: str  # the section's page, taking the organization's id as org_id
    label: LazyString


SECTIONS = (
    Section("overview", "organization.overview", _l("Overview")),
    Section("members", "members.index", _l("Members")),
    Section("messages", "messaging.send", _l("Send SMS")),
    Section("contacts", "contacts.index", _l("Contacts")),
    Section("campaigns", "campaigns.index", _l("Campaigns")),
    Section("payment", "organization.payment", _l("Payment")),
    Section("settings", "organization.settings", _l("Settings")),
    Section("logs", "organization.logs", _l("Logs")),
    Section("invoices", "organization.invoices", _l("Invoices")),
    Section("audit", "organization.audit", _l("Audit")),
)

SECTION_KEYS = tuple(section.key for section in SECTIONS)
