"""An organization's Audit section: who changed what, newest first, a keyset page at a time."""

from __future__ import annotations

from flask import render_template, request

from tenants.access import scoping
from tenants.access.policy import Permission
from tenants.audit import labels as audit_labels
from tenants.core import paging
from tenants.core.extensions import db
from tenants.models import AuditEntry
from tenants.people.users import users_by_id
from tenants.views.organization.blueprint import bp
from tenants.web.decorators import actor_required, organization_for_view

AUDIT_PAGE_SIZE = 50


# The audit page's links are made by the portal only: a forged one is a missing page.
AUDIT_CURSOR = paging.Cursor((paging.MOMENT, paging.TEXT), on_invalid=paging.page_not_found)


@bp.route("/<org_id>/audit")
@actor_required(Permission.VIEW_AUDIT)
def audit(org_id: str):
    actor, org = organization_for_view(org_id)
    query = scoping.audit_entries_query(actor, org)
    cursor = request.args.get("cursor", "")
    if cursor:
        position = AUDIT_CURSOR.decode(cursor)
        query = query.where(paging.keyset_before((AuditEntry.created_at, AuditEntry.id), position))
    query = query.order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
    entries = list(db.session.scalars(query.limit(AUDIT_PAGE_SIZE + 1)))
    last = entries[AUDIT_PAGE_SIZE - 1] if len(entries) > AUDIT_PAGE_SIZE else None
    next_cursor = AUDIT_CURSOR.encode(last.created_at, last.id) if last else None
    entries = entries[:AUDIT_PAGE_SIZE]
    people = users_by_id([e.actor_user_id for e in entries] + [e.real_user_id for e in entries])
    return render_template(
        "organization/audit.html",
        org=org,
        entries=entries,
        people=people,
        next_cursor=next_cursor,
        first_page=not cursor,
        labels=audit_labels,
        active_section="audit",
    )
