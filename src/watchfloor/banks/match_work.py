"""Matches become work: every match is recorded, becomes a ``hash_match`` signal through
the signals intake (so it clusters, counts and surges with the rest), and is checked
against the action rules (``banks.rules``), which open or attach to an escalation, flag
into a crisis, or request an enforcement action — or, in shadow mode, record what they
would have done.

``record_matches`` is one transaction: the matches, their signals, the rules' firings
and their audit events commit together. A rule that fails (an escalation type removed
from the catalog, a connector switched off) is recorded as a failed firing in its own
savepoint; it never fails the lookup the upload pipeline is waiting for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.banks.actioner import active_connector, request_enforcement
from watchfloor.banks.matcher import QueryResult
from watchfloor.banks.models import (
    Bank,
    FiringMode,
    FiringOutcome,
    Match,
    MatchChannel,
    ReviewOutcome,
    RuleFiring,
    SignalType,
)
from watchfloor.banks.rules import (
    EMPTY_RULES,
    ActionRule,
    ActionRuleSet,
    MatchFacts,
    conditions_held,
    rules_in_force,
    sampled_for_review,
)
from watchfloor.catalog.selectors import active_catalog_version, catalog_for
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, InvalidInput, NotFound, WatchfloorError
from watchfloor.core.roles import can_work_escalations
from watchfloor.core.validation import require
from watchfloor.crises.services.notes import add_crisis_note
from watchfloor.escalations.filing import create_escalation
from watchfloor.escalations.inputs import EscalationInput, SubjectInput
from watchfloor.escalations.models import SourceKind, Subject
from watchfloor.escalations.selectors import escalations_visible_to
from watchfloor.markets.models import Market
from watchfloor.signals.auto_escalation import rules_account
from watchfloor.signals.intake import ingest_signals
from watchfloor.signals.models import Signal
from watchfloor.signals.services import attach_cluster

if TYPE_CHECKING:
    from watchfloor.people.models import APIToken, User

PRODUCER = "watchfloor-matcher"
NOTE_MAX = 4000
# How a query's signal type is a signal's subject and media.
_SUBJECT_KIND = {
    SignalType.PDQ: "media",
    SignalType.MD5: "media",
    SignalType.SHA256: "media",
    SignalType.URL: "url",
    SignalType.DOMAIN: "url",
    SignalType.TEXT: "post",
}
_ESCALATION_SUBJECT_KIND = {
    "media": Subject.Kind.MEDIA,
    "url": Subject.Kind.URL,
    "post": Subject.Kind.POST,
}


@dataclass(frozen=True)
class QueryContext:
    """What the caller says about an item beside its hash: its own id (the signal's
    idempotency key), the market it was uploaded in, and the platform's reference."""

    id: str = ""
    market: str = ""
    subject_ref: str = ""


@dataclass(frozen=True)
class Recorded:
    matches: list[Match]
    firings: list[RuleFiring]
    signal_ids: list[int | None]


def rules_for_matches() -> ActionRuleSet:
    try:
        version = active_catalog_version()
    except NotFound:
        return EMPTY_RULES
    return rules_in_force(catalog_for(version), catalog_key=version.digest)


def record_matches(
    *,
    results: Sequence[QueryResult],
    contexts: Sequence[QueryContext] | None = None,
    actor: User | None,
    channel: str = MatchChannel.API,
    token: APIToken | None = None,
) -> Recorded:
    """Record the matches among ``results``, turn each matched query into a signal and
    apply the action rules in force."""
    contexts = list(contexts) if contexts is not None else [QueryContext()] * len(results)
    if len(contexts) != len(results):
        raise InvalidInput(f"{len(contexts)} contexts for {len(results)} results", field="queries")
    matched = [(r, c) for r, c in zip(results, contexts, strict=True) if r.matches and not r.error]
    if not matched:
        return Recorded([], [], [])
    now = clock.now()
    banks = {
        b.name: b
        for b in Bank.objects.filter(name__in={m.bank for r, _ in matched for m in r.matches})
    }
    known_markets = set(
        Market.objects.filter(code__in={c.market for _, c in matched if c.market}).values_list(
            "code", flat=True
        )
    )
    ruleset = rules_for_matches()
    with transaction.atomic():
        per_query: list[list[Match]] = []
        for result, context in matched:
            rows = []
            for found in result.matches:
                bank = banks[found.bank]
                rows.append(
                    Match(
                        signal_type=result.signal_type,
                        value=result.value,
                        bank=bank,
                        entry_id=found.entry_id,
                        distance=found.distance,
                        labels=sorted(set(bank.labels) | set(found.labels)),
                        market=context.market if context.market in known_markets else "",
                        subject_ref=context.subject_ref[:4096],
                        matched_at=now,
                        matched_by=actor,
                        token=token,
                        channel=channel,
                    )
                )
            per_query.append(Match.objects.bulk_create(rows))
        signal_ids = _ingest(per_query, [c for _, c in matched])
        all_matches = [row for rows in per_query for row in rows]
        record_event(
            action=AuditAction.BANK_MATCHES_RECORDED,
            actor=actor,
            target=all_matches[0],
            data={
                "queries": len(per_query),
                "matches": len(all_matches),
                "first_match_id": all_matches[0].pk,
                "channel": channel,
                "token": token.prefix if token is not None else None,
                "signals": [s for s in signal_ids if s is not None][:100],
            },
        )
        firings = []
        account = rules_account() if ruleset.rules else None
        for row in all_matches:
            firings.extend(apply_rules(match=row, ruleset=ruleset, account=account))
    return Recorded(all_matches, firings, signal_ids)


def _ingest(per_query: list[list[Match]], contexts: list[QueryContext]) -> list[int | None]:
    """One ``hash_match`` signal per matched query, through the one way in for signals;
    the matches are linked to it."""
    items = [_signal_for(rows, context) for rows, context in zip(per_query, contexts, strict=True)]
    batch = ingest_signals(items=items, producer=PRODUCER, actor=None)
    signal_ids: list[int | None] = []
    for rows, item in zip(per_query, batch.results, strict=True):
        signal_ids.append(item.signal_id)
        if item.signal_id is not None:
            Match.objects.filter(pk__in=[row.pk for row in rows]).update(signal_id=item.signal_id)
            for row in rows:
                row.signal_id = item.signal_id
    return signal_ids


def _signal_for(rows: list[Match], context: QueryContext) -> dict[str, Any]:
    first = rows[0]
    kind = _SUBJECT_KIND[SignalType(first.signal_type)]
    signal: dict[str, Any] = {
        "id": context.id or f"match-{first.pk}",
        "received_at": first.matched_at.isoformat(),
        "source": "hash_match",
        "subject": {
            "kind": kind,
            "ref": context.subject_ref or f"{first.signal_type}:{first.value}"[:4096],
        },
        # A restricted bank's name and labels stay with those who may see the bank: the
        # signal only counts its matches.
        "attributes": {
            "restricted_matches": sum(1 for row in rows if row.bank.is_restricted),
            "matches": [
                {
                    "bank": row.bank.name,
                    "entry": row.entry_id,
                    "distance": row.distance,
                    "match": row.pk,
                }
                for row in rows[:50]
                if not row.bank.is_restricted
            ],
            "labels": sorted(
                {label for row in rows if not row.bank.is_restricted for label in row.labels}
            ),
        },
    }
    if first.market:
        signal["market"] = first.market
    if first.signal_type in (SignalType.PDQ, SignalType.MD5, SignalType.SHA256):
        signal["media"] = {first.signal_type: first.value}
    elif first.signal_type == SignalType.URL:
        signal["url"] = first.value
    elif first.signal_type == SignalType.DOMAIN:
        signal["url"] = f"https://{first.value}/"
    else:
        signal["text"] = first.value[:20_000]
    return signal


# ---------------------------------------------------------------- the rules


def apply_rules(
    *, match: Match, ruleset: ActionRuleSet, account: User | None = None
) -> list[RuleFiring]:
    """Fire every rule in ``ruleset`` whose conditions and volume hold for ``match``, as
    ``account`` (the rules' service account by default)."""
    facts = MatchFacts(
        bank=match.bank.name, labels=match.labels, distance=match.distance, market=match.market
    )
    firings = []
    for rule in ruleset.rules:
        held = conditions_held(rule, facts)
        if held is None:
            continue
        if rule.when.min_matches > 1:
            volume = _volume(rule, match)
            if volume < rule.when.min_matches:
                continue
            held.append(
                f"{volume} matches within {rule.when.window} "
                f"(rule: at least {rule.when.min_matches})"
            )
        account = account or rules_account()
        firings.append(_fire(rule=rule, ruleset=ruleset, match=match, held=held, account=account))
    return firings


def _volume(rule: ActionRule, match: Match) -> int:
    """Matches meeting the rule's other conditions in its window, this one included."""
    when = rule.when
    rows = Match.objects.filter(
        matched_at__gt=match.matched_at - when.window_length,
        matched_at__lte=match.matched_at,
        distance__gte=when.min_distance,
        distance__lte=when.max_distance,
    )
    if when.banks:
        rows = rows.filter(bank__name__in=when.banks)
    if when.market:
        rows = rows.filter(market__in=when.market)
    if not when.labels:
        return rows.count()
    wanted = set(when.labels)
    return sum(1 for labels in rows.values_list("labels", flat=True) if wanted & set(labels))


def _fire(
    *, rule: ActionRule, ruleset: ActionRuleSet, match: Match, held: list[str], account: User
) -> RuleFiring:
    firing = RuleFiring(
        rule_code=rule.code,
        rules_version=ruleset.version,
        match=match,
        mode=rule.mode,
        action=rule.action,
        conditions=held,
        fired_at=clock.now(),
    )
    try:
        with transaction.atomic():  # a savepoint: a failed action leaves nothing behind
            if rule.escalate is not None:
                _escalate(firing, rule, match, account)
            elif rule.flag_crisis is not None:
                _flag_crisis(firing, rule, match, account)
            else:
                _enforce(firing, rule, match, account)
    except WatchfloorError as error:
        firing.outcome = FiringOutcome.FAILED
        firing.detail = f"{firing.detail} failed: {error.message}".strip()
        firing.escalation = firing.crisis = None
    if firing.mode == FiringMode.LIVE and firing.outcome != FiringOutcome.FAILED:
        firing.needs_review = sampled_for_review(rule, match.pk)
    firing.save()
    record_event(
        action=AuditAction.BANK_RULE_FIRED,
        actor=account,
        target=firing,
        escalation_id=firing.escalation_id,
        data={
            "rule": rule.code,
            "rules_version": ruleset.version,
            "match": match.pk,
            "mode": firing.mode,
            "action": firing.action,
            "outcome": firing.outcome,
            "detail": firing.detail,
            "conditions": held,
            "needs_review": firing.needs_review,
        },
    )
    return firing


def _live(firing: RuleFiring) -> bool:
    return firing.mode == FiringMode.LIVE


def _escalate(firing: RuleFiring, rule: ActionRule, match: Match, account: User) -> None:
    action = rule.escalate
    assert action is not None
    signal = (
        Signal.objects.select_related("cluster").filter(pk=match.signal_id).first()
        if match.signal_id is not None
        else None
    )
    cluster = signal.cluster if signal is not None else None
    visible = escalations_visible_to(account).filter(merged_into__isnull=True)
    target = None
    if cluster is not None and cluster.escalation_id is not None:
        target = visible.filter(pk=cluster.escalation_id).first()
        target = target if target is not None and target.is_open else None
    if target is None:
        earlier = (
            RuleFiring.objects.filter(
                rule_code=rule.code,
                mode=FiringMode.LIVE,
                match__bank=match.bank,
                escalation__isnull=False,
                fired_at__gte=firing.fired_at - action.attach_within,
            )
            .order_by("-id")
            .values_list("escalation_id", flat=True)
            .first()
        )
        if earlier is not None:
            found = visible.filter(pk=earlier).first()
            target = found if found is not None and found.is_open else None
    if target is not None:
        firing.escalation = target
        if not _live(firing):
            firing.outcome = FiringOutcome.WOULD_ATTACH
            firing.detail = f"would attach to {target.reference}"
            return
        firing.outcome = FiringOutcome.ATTACHED
        firing.detail = f"attached to {target.reference}"
        if cluster is not None and cluster.escalation_id != target.pk:
            attach_cluster(
                cluster=cluster,
                escalation_id=target.pk,
                actor=account,
                note=_note(rule, match, firing.conditions),
            )
        return
    if not _live(firing):
        firing.outcome = FiringOutcome.WOULD_OPEN
        firing.detail = f"would open a {action.type} escalation"
        return
    kind = _SUBJECT_KIND[SignalType(match.signal_type)]
    reference = match.subject_ref or f"{match.signal_type}:{match.value}"
    created = create_escalation(
        actor=account,
        details=EscalationInput(
            type_code=action.type,
            title=(action.title or f"{rule.name}: bank {match.bank.name}")[:200],
            summary=_note(rule, match, firing.conditions),
            markets=[match.market] if match.market else [],
            subjects=[
                SubjectInput(kind=_ESCALATION_SUBJECT_KIND[kind], reference=reference[:2000])
            ],
            source_kind=SourceKind.DETECTOR,
            source_detail=f"Bank action rule {rule.code} on match {match.pk}"[:500],
            rubric_answers=dict(action.rubric),
            # A restricted bank's match opens work only its readers see.
            is_restricted=match.bank.is_restricted,
            access_usernames=[
                *match.bank.access_list.values_list("username", flat=True),
                account.get_username(),
            ]
            if match.bank.is_restricted
            else [],
        ),
    )
    if cluster is not None and cluster.escalation_id is None:
        attach_cluster(cluster=cluster, escalation_id=created.pk, actor=account)
    firing.escalation = created
    firing.outcome = FiringOutcome.OPENED
    firing.detail = f"opened {created.reference}"


def _flag_crisis(firing: RuleFiring, rule: ActionRule, match: Match, account: User) -> None:
    crisis = match.bank.crisis
    if crisis is None:
        raise Conflict(f"bank {match.bank.name} was not made for a crisis", field="bank")
    firing.crisis = crisis
    if not _live(firing):
        firing.outcome = FiringOutcome.WOULD_FLAG
        firing.detail = f"would flag into {crisis.reference}"
        return
    firing.outcome = FiringOutcome.FLAGGED
    firing.detail = f"flagged into {crisis.reference}"
    already = RuleFiring.objects.filter(
        rule_code=rule.code,
        crisis=crisis,
        outcome=FiringOutcome.FLAGGED,
        match__entry_id=match.entry_id,
    ).exists()
    if already:  # the war room hears once per known item; later copies are counted
        return
    assert rule.flag_crisis is not None
    add_crisis_note(
        crisis=crisis,
        body=_note(rule, match, firing.conditions),
        actor=account,
        pinned=rule.flag_crisis.pin,
    )


def _enforce(firing: RuleFiring, rule: ActionRule, match: Match, account: User) -> None:
    enforce = rule.enforce
    assert enforce is not None
    what = f"{enforce.action} through {enforce.connector}"
    if not _live(firing):
        firing.outcome = FiringOutcome.WOULD_REQUEST
        firing.detail = f"would request {what}"
        return
    firing.outcome = FiringOutcome.REQUESTED
    firing.detail = f"requested {what}"
    firing.save()  # the request points at its firing
    request_enforcement(
        connector=active_connector(enforce.connector),
        action_code=enforce.action,
        countries=enforce.countries,
        references=[match.subject_ref or f"{match.signal_type}:{match.value}"],
        actor=account,
        firing=firing,
    )


def _note(rule: ActionRule, match: Match, conditions: list[str]) -> str:
    listed = "\n".join(f"- {condition}" for condition in conditions)
    where = f" in {match.market}" if match.market else ""
    text = (
        f"Bank action rule “{rule.name}” ({rule.code}): {match.signal_type} "
        f"{match.value[:80]}{where} matched entry {match.entry_id} of bank "
        f"{match.bank.name} at distance {match.distance}.\n{listed}"
    )
    return text[:NOTE_MAX]


# ---------------------------------------------------------------- review


def review_firing(*, firing: RuleFiring, outcome: str, actor: User, note: str = "") -> RuleFiring:
    """A person's verdict on an automated action: correct, or wrong (with a note why)."""
    require(can_work_escalations(actor), "your role cannot review automated actions")
    if outcome not in (ReviewOutcome.CORRECT, ReviewOutcome.WRONG):
        raise InvalidInput("the outcome is correct or wrong", field="outcome")
    note = note.strip()
    if outcome == ReviewOutcome.WRONG and not note:
        raise InvalidInput("say what was wrong", field="note")
    with transaction.atomic():
        firing = RuleFiring.objects.select_for_update().get(pk=firing.pk)
        if not firing.needs_review:
            raise Conflict("this firing was not set aside for review", field="firing")
        if firing.review_outcome:
            raise Conflict(
                f"already reviewed as {firing.review_outcome} at {firing.reviewed_at}",
                field="firing",
            )
        firing.review_outcome = outcome
        firing.review_note = note
        firing.reviewed_by = actor
        firing.reviewed_at = clock.now()
        firing.save(update_fields=["review_outcome", "review_note", "reviewed_by", "reviewed_at"])
        record_event(
            action=AuditAction.BANK_RULE_FIRING_REVIEWED,
            actor=actor,
            target=firing,
            escalation_id=firing.escalation_id,
            data={"rule": firing.rule_code, "outcome": outcome, "note": note},
        )
    return firing
