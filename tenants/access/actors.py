"""Who is acting: a person in one context (platform, reseller, organization) or an API key."""

from __future__ import annotations

from dataclasses import dataclass

from tenants.models import MemberRole, PlatformRole, ResellerRole, SupportMode


@dataclass(frozen=True)
class Actor:
    """The acting principal every service receives; built by the web layer or the API."""

    user_id: str | None = None
    platform_role: PlatformRole | None = None
    reseller_id: str | None = None
    reseller_role: ResellerRole | None = None
    organization_id: str | None = None
    member_id: str | None = None
    member_role: MemberRole | None = None
    api_key_id: str | None = None
    # The staff member really acting during a login-as support session.
    real_user_id: str | None = None
    support_session_id: str | None = None
    # What the support session may do (tenants.access.policy.refuse_in_view_only).
    support_mode: SupportMode | None = None

    @property
    def is_platform(self) -> bool:
        return self.platform_role is not None

    @property
    def is_platform_admin(self) -> bool:
        return self.platform_role == PlatformRole.ADMIN

    @property
    def is_support_agent(self) -> bool:
        return self.platform_role == PlatformRole.SUPPORT

    @property
    def is_reseller_staff(self) -> bool:
        return self.reseller_role is not None

    @property
    def is_reseller_admin(self) -> bool:
        return self.reseller_role == ResellerRole.ADMIN

    @property
    def is_staff(self) -> bool:
        return self.is_platform or self.is_reseller_staff

    @property
    def is_member(self) -> bool:
        return self.member_role is not None

    @property
    def is_org_admin(self) -> bool:
        return self.member_role in (MemberRole.OWNER, MemberRole.ADMIN)

    @property
    def is_org_owner(self) -> bool:
        return self.member_role == MemberRole.OWNER

    @property
    def is_acting(self) -> bool:
        """Staff acting as this person in a login-as support session."""
        return self.real_user_id is not None

    @property
    def is_api(self) -> bool:
        return self.api_key_id is not None


SYSTEM = Actor()
"""The platform itself (CLI, scheduled jobs): no tenant limits, recorded as no one."""
