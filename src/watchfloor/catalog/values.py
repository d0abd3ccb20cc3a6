"""The kinds of value every configuration file shares, each checked where it is read.

Codes, rule ids, market codes, time zones, language tags, durations, dates and names:
the catalog's files use them, and so do the playbook, rota, notification, crisis and
scenario files. Each check's error names the value and shows a correct example.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

from watchfloor.core.validation import TIME_RANGE, within_time_range
from watchfloor.severity.rubric import parse_iso_duration

_CODE = re.compile(r"^[a-z][a-z0-9_]*$")
_RULE_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_MARKET_CODE = re.compile(r"^[A-Z]{2}$")
# The common shape of a BCP 47 tag, in its canonical case: language, then optional
# script, region and variants (ja, zh-Hant, en-US, es-419, sl-rozaj).
_LANGUAGE_TAG = re.compile(
    r"^[a-z]{2,3}(?:-[A-Z][a-z]{3})?(?:-(?:[A-Z]{2}|\d{3}))?(?:-(?:[a-z0-9]{5,8}|\d[a-z0-9]{3}))*$"
)


def _code(value: str) -> str:
    if not _CODE.match(value) or len(value) > 64:
        raise ValueError(
            f"'{value}' is not a valid code: use up to 64 lower-case letters, digits and "
            "underscores, starting with a letter (for example violent_threats)"
        )
    return value


def _rule_id(value: str) -> str:
    if not _RULE_ID.match(value) or len(value) > 80:
        raise ValueError(
            f"'{value}' is not a valid rule id: use up to 80 lower-case letters, digits and "
            "hyphens (for example in-itrules-3-1-d)"
        )
    return value


def _market_code(value: str) -> str:
    if not _MARKET_CODE.match(value):
        raise ValueError(
            f"'{value}' is not a market code: use the two-letter ISO 3166-1 code in capitals "
            "(for example JP), or EU"
        )
    return value


def _time_zone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"'{value}' is not an IANA time zone name (for example Asia/Tokyo or Australia/Sydney)"
        ) from None
    return value


def _language_tag(value: str) -> str:
    if not _LANGUAGE_TAG.match(value):
        raise ValueError(
            f"'{value}' does not look like a BCP 47 language tag such as ja, zh-Hant or en-US "
            "(language in lower case, script in title case, region in capitals)"
        )
    return value


def _duration(value: str) -> str:
    parse_iso_duration(value)  # its ValueError already names the value and gives examples
    return value


def _calendar_date(value: Any) -> Any:
    # Pydantic would read a bare number as a Unix timestamp; a catalog never means that.
    if isinstance(value, datetime) or not isinstance(value, date | str):
        raise ValueError(f"{value!r} is not a date; write it as YYYY-MM-DD, e.g. 2026-02-20")
    return value


Code = Annotated[str, AfterValidator(_code)]
RuleId = Annotated[str, AfterValidator(_rule_id)]
MarketCode = Annotated[str, AfterValidator(_market_code)]
TimeZoneName = Annotated[str, AfterValidator(_time_zone)]
LanguageTag = Annotated[str, AfterValidator(_language_tag)]
Duration = Annotated[str, AfterValidator(_duration)]


def _within_calendar(value: date) -> date:
    if not within_time_range(value):
        raise ValueError(f"{value} is outside the dates accepted ({TIME_RANGE}); check the year")
    return value


CalendarDate = Annotated[date, BeforeValidator(_calendar_date), AfterValidator(_within_calendar)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
