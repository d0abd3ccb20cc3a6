"""HMA's bank curation endpoints (``/c/…``) over Watchfloor's banks, with HMA's shapes:
a bank is ``{"name", "matching_enabled_ratio"}``, banked content answers ``{"id",
"signals": {type: value}}``. Reads need the ``matcher`` scope, writes the ``write`` scope
too and a role that works escalations; every write goes through ``banks.services``
(audited). Watchfloor never deletes: removing content disables the entry with a reason,
and a bank is switched off (``PUT`` with ``enabled: false``) rather than deleted.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest
from django.views.decorators.http import require_http_methods

from watchfloor.banks import services
from watchfloor.banks.hma import HMA_SIGNAL_TYPES, MatcherRequest, hashes_of_upload, hma_endpoint
from watchfloor.banks.models import Bank, BankEntry, EntrySource, SignalType
from watchfloor.banks.selectors import access_bank, banks_visible_to
from watchfloor.banks.signals import normalise_value
from watchfloor.core.errors import InvalidInput, NotFound, PermissionDenied
from watchfloor.core.roles import can_work_escalations
from watchfloor.core.validation import require
from watchfloor.people.models import TokenScope, User

REMOVED_REASON = "removed through the HMA curation API"


def _bank_json(bank: Bank) -> dict[str, Any]:
    return {
        "name": bank.name,
        "matching_enabled_ratio": bank.matching_ratio if bank.is_enabled else 0.0,
    }


def _body(request: HttpRequest) -> dict[str, Any]:
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        raise InvalidInput("this endpoint expects a json object payload") from None
    if not isinstance(data, dict):
        raise InvalidInput("this endpoint expects a json object payload")
    return data


def _ratio(data: dict[str, Any]) -> float | None:
    if "enabled_ratio" in data:
        try:
            return float(data["enabled_ratio"])
        except (TypeError, ValueError):
            raise InvalidInput(f"Invalid float: '{data['enabled_ratio']}'") from None
    if "enabled" in data:
        return 1.0 if data["enabled"] in (True, "true", "1", 1) else 0.0
    return None


def _curator(request: MatcherRequest) -> User:
    """Who changes banks: a token with the write scope too, of a role that works
    escalations."""
    if TokenScope.WRITE not in request.api_token.scopes:
        raise PermissionDenied("changing banks needs a token with the write scope too")
    user: User = request.hma_user
    require(can_work_escalations(user), "your role cannot curate banks")
    return user


@require_http_methods(["GET", "POST"])
@hma_endpoint(scope=TokenScope.MATCHER)
def banks(request: MatcherRequest) -> Any:
    """GET: the banks the caller may see. POST ``{"name", "enabled_ratio"|"enabled"}``
    (needs a token with the write scope): a new PDQ bank, 201."""
    if request.method == "GET":
        return [_bank_json(bank) for bank in banks_visible_to(request.hma_user)]
    actor = _curator(request)
    data = _body(request)
    name = data.get("name")
    if not name:
        raise InvalidInput("name is required")
    ratio = _ratio(data)
    signal_type = str(data.get("signal_type", "pdq"))
    bank = services.create_bank(
        name=str(name),
        signal_type=HMA_SIGNAL_TYPES.get(signal_type, signal_type),
        actor=actor,
        matching_ratio=1.0 if ratio is None else ratio,
    )
    return _bank_json(bank), 201


@require_http_methods(["GET", "PUT"])
@hma_endpoint(scope=TokenScope.MATCHER)
def bank(request: MatcherRequest, bank_name: str) -> Any:
    """GET: the bank. PUT ``{"enabled"|"enabled_ratio"}``: switch it or set its ratio."""
    found = access_bank(request.hma_user, bank_name)
    if request.method == "GET":
        return _bank_json(found)
    actor = _curator(request)
    ratio = _ratio(_body(request))
    if ratio is not None:
        found = services.change_bank(
            bank=found,
            actor=actor,
            is_enabled=ratio > 0,
            matching_ratio=ratio if ratio > 0 else None,
        )
    return _bank_json(found)


@require_http_methods(["POST"])
@hma_endpoint(scope=TokenScope.MATCHER)
def bank_signal(request: MatcherRequest, bank_name: str) -> dict[str, Any]:
    """``{"pdq": "<hash>"}`` → ``{"id", "signals"}``: the hash banked."""
    found = access_bank(request.hma_user, bank_name)
    return _add(request, found, {str(k): str(v) for k, v in _body(request).items()})


@require_http_methods(["POST"])
@hma_endpoint(scope=TokenScope.MATCHER)
def bank_content(request: MatcherRequest, bank_name: str) -> dict[str, Any]:
    """A file (multipart, named ``photo`` or ``video``) → its hash banked."""
    found = access_bank(request.hma_user, bank_name)
    if request.GET.get("url"):
        raise InvalidInput("fetching media by URL is not offered here: POST the file")
    return _add(request, found, hashes_of_upload(request))


def _add(request: MatcherRequest, bank: Bank, signals: dict[str, str]) -> dict[str, Any]:
    if not signals:
        raise InvalidInput("No signals given")
    wanted = [
        (name, value)
        for name, value in signals.items()
        if HMA_SIGNAL_TYPES.get(name, name) == bank.signal_type
    ]
    if not wanted:
        raise InvalidInput(f"bank {bank.name!r} holds {bank.signal_type} signals only")
    name, value = wanted[0]
    actor = _curator(request)
    services.add_entries(
        bank=bank,
        entries=[services.NewEntry(signal_type=bank.signal_type, value=value)],
        source=EntrySource.API,
        actor=actor,
    )
    normal = normalise_value(SignalType(bank.signal_type), value, field=name)
    entry = BankEntry.objects.get(bank=bank, value=normal)
    return {"id": entry.pk, "signals": {name: entry.value}}


@require_http_methods(["DELETE"])
@hma_endpoint(scope=TokenScope.MATCHER)
def bank_content_remove(request: MatcherRequest, bank_name: str, content_id: int) -> dict[str, int]:
    """The entry is disabled (with a reason), never deleted: ``{"deleted": 1}``."""
    found = access_bank(request.hma_user, bank_name)
    entry = BankEntry.objects.filter(bank=found, pk=content_id).first()
    if entry is None:
        raise NotFound(f"no content {content_id} in bank '{bank_name}'")
    was_enabled = entry.disabled_at is None
    services.disable_entry(entry=entry, reason=REMOVED_REASON, actor=_curator(request))
    return {"deleted": 1 if was_enabled else 0}
