"""A person's own profile: the time zone every time is shown in, and the languages they
read. Each person edits their own (``people.views.profile``); the edit carries the
``profile_version`` it was read at (``core.versions``) and is audited."""

from __future__ import annotations

from collections.abc import Iterable
from zoneinfo import available_timezones

from django.db import transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.core.errors import InvalidInput
from watchfloor.core.validation import clean_language_tags
from watchfloor.core.versions import require_current_version
from watchfloor.markets.models import Market
from watchfloor.people.models import User
from watchfloor.people.services import validate_time_zone

# A person reads at most this many languages in their profile: enough for anyone.
LANGUAGES_MAX = 10

# The zones Watchfloor's people work in most, offered first (Japan / APAC first).
COMMON_ZONES = (
    "Asia/Tokyo",
    "Asia/Seoul",
    "Asia/Taipei",
    "Asia/Hong_Kong",
    "Asia/Shanghai",
    "Asia/Singapore",
    "Asia/Kuala_Lumpur",
    "Asia/Manila",
    "Asia/Jakarta",
    "Asia/Bangkok",
    "Asia/Ho_Chi_Minh",
    "Asia/Kolkata",
    "Australia/Sydney",
    "Australia/Perth",
    "Pacific/Auckland",
    "Europe/London",
    "Europe/Dublin",
    "America/New_York",
    "America/Los_Angeles",
    "UTC",
)


def zone_options() -> list[str]:
    """Every IANA zone, the common ones first (for the profile page's searchable list)."""
    valid = available_timezones()
    common = [zone for zone in COMMON_ZONES if zone in valid]
    rest = sorted(zone for zone in valid if zone not in common and "/" in zone)
    return [*common, *rest]


def catalog_languages() -> list[str]:
    """The languages of the catalog's markets, in market order, English first: the ones a
    person may say they read. One query."""
    seen = ["en"]
    for languages in Market.objects.order_by("code").values_list("languages", flat=True):
        for tag in languages or []:
            if tag not in seen:
                seen.append(tag)
    return seen


def clean_profile_languages(tags: Iterable[str], *, known: Iterable[str]) -> list[str]:
    """BCP 47 tags the catalog knows (matched case-insensitively, kept in its spelling)."""
    clean = clean_language_tags(tags)
    if len(clean) > LANGUAGES_MAX:
        raise InvalidInput(
            f"{len(clean)} languages given; the limit is {LANGUAGES_MAX}", field="languages"
        )
    spelling = {tag.lower(): tag for tag in known}
    result = []
    for index, tag in enumerate(clean):
        if tag.lower() not in spelling:
            raise InvalidInput(
                f"'{tag}' is not a language of the catalog's markets; use one of "
                f"{', '.join(sorted(spelling.values()))}",
                field=f"languages[{index}]",
            )
        if spelling[tag.lower()] not in result:
            result.append(spelling[tag.lower()])
    return result


def describe_profile(user: User) -> str:
    return f"time zone {user.time_zone}, languages {', '.join(user.languages) or 'none'}"


@transaction.atomic
def update_profile(
    *,
    user: User,
    time_zone: str,
    languages: list[str],
    actor: User,
    expected_version: int | None,
) -> User:
    """Set ``user``'s time zone and languages. Each person edits only their own profile;
    an edit read at another ``profile_version`` is refused with what the profile is now.
    Audited with the old and new values; nothing is written when nothing changed."""
    if actor.pk != user.pk:
        raise InvalidInput("you can change only your own profile", field="user")
    zone = validate_time_zone((time_zone or "").strip())
    chosen = clean_profile_languages(languages, known=catalog_languages())
    stored = User.objects.select_for_update(of=("self",)).get(pk=user.pk)
    require_current_version(
        expected=expected_version,
        current=stored.profile_version,
        what="Your profile",
        now=describe_profile(stored),
    )
    before = {"time_zone": stored.time_zone, "languages": list(stored.languages or [])}
    after = {"time_zone": zone, "languages": chosen}
    if before == after:
        return stored
    stored.time_zone = zone
    stored.languages = chosen
    stored.profile_version += 1
    stored.save(update_fields=["time_zone", "languages", "profile_version"])
    record_event(
        action=AuditAction.USER_PROFILE_CHANGED,
        actor=actor,
        target=stored,
        data={
            "username": stored.username,
            "from": before,
            "to": after,
            "changed": sorted(key for key in after if before[key] != after[key]),
        },
    )
    return stored
