"""The contacts API's request and answer models: contact lists, contacts, imports, opt-outs."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Discriminator, Field, RootModel, Tag

from reseller.api.schemas import Id, NextCursor, Time
from reseller.api.spec import ApiModel, text
from tenants.contacts.imports import FIRST_REJECTIONS
from tenants.contacts.numbers import NAME_MAX_LENGTH, Rejection
from tenants.models.contacts import OptOutSource

MAX_JSON_CONTACTS = 1_000
Mobile = text(
    32,
    description="International (+34 600 000 000) or a number of the organization's country; "
    "answered in E.164",
)


class ContactListCreate(ApiModel):
    name: text(NAME_MAX_LENGTH)


class ContactListUpdate(ApiModel):
    name: text(NAME_MAX_LENGTH) = None


class ContactList(ApiModel):
    id: Id
    organization_id: Id
    name: str = Field(max_length=NAME_MAX_LENGTH)
    contacts: int = Field(ge=0, description="How many contacts the list holds")
    created_at: Time


class ContactListList(ApiModel):
    data: list[ContactList] = Field(max_length=100)
    next_cursor: NextCursor


class ContactCreate(ApiModel):
    name: text(NAME_MAX_LENGTH, required=False) | None = None
    mobile: Mobile


class ContactUpdate(ApiModel):
    name: text(NAME_MAX_LENGTH, required=False) | None = None
    mobile: Mobile = None


def _shape(value: object) -> str:
    # The tags name a refused field's path: ``mobile`` for one, ``contacts[2].mobile``.
    return "contacts" if isinstance(value, list) else ""


class ContactsCreate(RootModel):
    """One contact (an object), or several (an array of up to 1,000); a CSV body
    (``text/csv``) of any size is the other way."""

    root: Annotated[
        Annotated[ContactCreate, Tag("")]
        | Annotated[list[ContactCreate], Field(max_length=MAX_JSON_CONTACTS), Tag("contacts")],
        Discriminator(_shape),
    ]


class Contact(ApiModel):
    id: Id
    list_id: Id
    name: str | None = Field(max_length=NAME_MAX_LENGTH)
    mobile: str = Field(max_length=16, description="E.164")
    created_at: Time


class ContactPage(ApiModel):
    data: list[Contact] = Field(max_length=100)
    next_cursor: NextCursor


class RejectedRow(ApiModel):
    row: int = Field(
        ge=1, description="The row in the file (the header is row 1), or the array index + 1"
    )
    reason: Literal[tuple(r.value for r in Rejection)]
    message: str = Field(max_length=300, description="The reason in the Accept-Language")


class ImportResult(ApiModel):
    added: int = Field(ge=0)
    duplicates: int = Field(ge=0, description="Already in the list, or repeated in the file")
    rejected: list[RejectedRow] = Field(
        max_length=FIRST_REJECTIONS,
        description=f"The first {FIRST_REJECTIONS} rejected rows; all of them are in the "
        "report at `rejections_url`",
    )
    rejected_count: int = Field(ge=0)
    import_id: Id | None
    rejections_url: str | None = Field(description="The rejected rows as CSV")
    contact: Contact | None = Field(description="The contact added, when one object was sent")


class OptOutCreate(ApiModel):
    mobile: Mobile


class OptOut(ApiModel):
    id: Id
    mobile: str = Field(max_length=16, description="E.164")
    source: Literal[tuple(s.value for s in OptOutSource)]
    created_at: Time


class OptOutAnswer(RootModel):
    """One opt-out added (201), or a CSV import's counts (200)."""

    root: OptOut | ImportResult


class OptOutList(ApiModel):
    data: list[OptOut] = Field(max_length=100)
    next_cursor: NextCursor


class OptOutDeleteQuery(ApiModel):
    mobile: Mobile
