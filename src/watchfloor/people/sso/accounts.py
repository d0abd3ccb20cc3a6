"""From a provider's verified claims to a Watchfloor account, role and team.

The group mapping decides everything: a person in no mapped group is refused (and, if
they had an active account, it is deactivated at that sign-in); otherwise the first
mapped group gives the role and, when the entry names one, the team. Every outcome is
written to the audit log through ``people.services``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NoReturn

from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.db import transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.core.roles import Role
from watchfloor.people.models import Team, User
from watchfloor.people.services import (
    change_user_access,
    create_user,
    deactivate_user,
    update_user_details,
)
from watchfloor.people.sso.config import GroupRule, SSOConfig

SOURCE = "single sign-on"
MAX_GROUPS = 1000  # a claim longer than this is refused, not walked


class SSOAccessRefused(Exception):
    """Sign-in refused. ``message`` is for the person at the login page; ``reason`` is the
    machine-readable code in the audit event."""

    def __init__(self, *, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Identity:
    """What the provider says about a person, already checked for shape."""

    username: str
    groups: tuple[str, ...]
    email: str
    first_name: str
    last_name: str
    subject: str


def _text_claim(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name)
    return value.strip() if isinstance(value, str) else ""


def identity_from_claims(claims: dict[str, Any], *, config: SSOConfig) -> Identity:
    username = _text_claim(claims, config.username_claim)
    if not _is_username(username):
        _refuse(
            reason="no_username",
            message=(
                f"{config.provider_name} did not send a usable user name (claim "
                f"'{config.username_claim}'); ask your Watchfloor administrator to check the "
                "single sign-on settings"
            ),
            data={"claim": config.username_claim, "subject": _text_claim(claims, "sub")},
        )
    raw_groups = claims.get(config.groups_claim, [])
    if isinstance(raw_groups, str):
        raw_groups = [raw_groups]
    if not isinstance(raw_groups, list) or len(raw_groups) > MAX_GROUPS:
        raw_groups = []
    return Identity(
        username=username,
        groups=tuple(group for group in raw_groups if isinstance(group, str)),
        email=_text_claim(claims, "email"),
        first_name=_text_claim(claims, "given_name"),
        last_name=_text_claim(claims, "family_name"),
        subject=_text_claim(claims, "sub"),
    )


def _is_username(value: str) -> bool:
    if not value or len(value) > 150:
        return False
    try:
        UnicodeUsernameValidator()(value)
    except ValidationError:
        return False
    return True


def _refuse(
    *, reason: str, message: str, data: dict[str, Any], user: User | None = None
) -> NoReturn:
    """Record the refusal (committed on its own, whatever follows) and raise it."""
    record_refusal(reason=reason, data=data, user=user)
    raise SSOAccessRefused(reason=reason, message=message)


@transaction.atomic
def record_refusal(*, reason: str, data: dict[str, Any], user: User | None = None) -> None:
    record_event(
        action=AuditAction.SSO_REFUSED, actor=None, target=user, data={"reason": reason, **data}
    )


def sign_in_from_claims(claims: dict[str, Any], *, config: SSOConfig) -> User:
    """The account to sign in for these verified claims, created or brought up to date;
    raises :class:`SSOAccessRefused` when the person may not sign in."""
    identity = identity_from_claims(claims, config=config)
    user = User.objects.select_related("team").filter(username=identity.username).first()
    about: dict[str, Any] = {"username": identity.username, "groups": list(identity.groups[:50])}
    rule = config.rule_for(identity.groups)
    if rule is None:
        if user is not None and user.is_active:
            deactivate_user(
                user=user,
                actor=None,
                reason=f"{SOURCE}: no longer in a group mapped to a Watchfloor role",
            )
            about["deactivated"] = True
        _refuse(
            reason="no_mapped_group",
            message=(
                f"Your {config.provider_name} account is not in any group that gives access "
                "to Watchfloor. If you need access, ask your Watchfloor administrator."
            ),
            data=about,
            user=user,
        )
    about["entry"] = rule.entry
    if user is not None and not user.is_active:
        _refuse(
            reason="account_inactive",
            message=("Your Watchfloor account is deactivated. An administrator can reactivate it."),
            data=about,
            user=user,
        )
    team = _team_for(rule, about=about, user=user)
    with transaction.atomic():
        if user is None:
            user = create_user(
                username=identity.username,
                password=None,
                role=rule.role,
                team=team,
                actor=None,
                first_name=identity.first_name[:150],
                last_name=identity.last_name[:150],
                email=identity.email[:254],
            )
            about["created"] = True
        else:
            # An entry without a team leaves the account's team as an administrator set it.
            user = change_user_access(
                user=user,
                role=rule.role,
                team=team if rule.team else user.team,
                actor=None,
                reason=f"{SOURCE}: group '{rule.group}' (mapping entry {rule.entry})",
            )
            update_user_details(
                user=user,
                first_name=identity.first_name or user.first_name,
                last_name=identity.last_name or user.last_name,
                email=identity.email or user.email,
                actor=None,
                reason=SOURCE,
            )
        record_event(
            action=AuditAction.SSO_SIGNED_IN,
            actor=user,
            target=user,
            data={**about, "role": user.role, "team": user.team.code if user.team else None},
        )
    return user


def _team_for(rule: GroupRule, *, about: dict[str, Any], user: User | None) -> Team | None:
    if rule.team is None:
        return None
    team = Team.objects.filter(code=rule.team).first()
    problem = None
    if team is None:
        problem = f"names team '{rule.team}', which does not exist"
    elif rule.role == Role.PARTNER and team.kind != Team.Kind.PARTNER:
        problem = f"makes a partner of team '{rule.team}', which is not a partner team"
    if problem:
        _refuse(
            reason="mapping_broken",
            message=(
                "Watchfloor's single sign-on settings are wrong for your group, so you cannot "
                "sign in yet. Your Watchfloor administrator has the details in the audit log."
            ),
            data={**about, "problem": f"WATCHFLOOR_OIDC_GROUP_ROLES {rule.describe()} {problem}"},
            user=user,
        )
    return team
