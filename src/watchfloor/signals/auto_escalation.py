"""Auto-escalation: a rule's match acted on once, as the rules' service account.

``apply_rule`` opens an escalation for a matching cluster or series surge, or attaches
the cluster to the open escalation it shares a key with (or, where the rule says so,
to one of the same type and market), records the firing with its evidence and audits
it, all in one transaction. The rules themselves (what matches) are ``signals.rules``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.core import clock
from watchfloor.core.errors import InvalidInput, WatchfloorError
from watchfloor.core.roles import Role
from watchfloor.escalations.filing import create_escalation
from watchfloor.escalations.inputs import EscalationInput
from watchfloor.escalations.models import OPEN_STATUSES, Escalation, SourceKind
from watchfloor.escalations.selectors import escalations_visible_to
from watchfloor.escalations.services import add_note, link_escalations
from watchfloor.people.models import Team, User
from watchfloor.signals.models import Cluster, ClusterRelation, KeyKind, RuleFiring, SurgeAlert
from watchfloor.signals.rule_matching import Match, escalation_type_for, render_title
from watchfloor.signals.rules import ESCALATION_SOURCE_FOR_SIGNAL, RuleSet, RuleSpec
from watchfloor.signals.selectors import describe_surge_subject, surge_explanation, tally_rows
from watchfloor.signals.services import (
    cluster_facts,
    known_markets,
    link_cluster,
    locked_cluster,
    representative_of,
    subjects_for,
    valid_languages,
)

RULES_ACCOUNT = "watchfloor-rules"


def rules_account() -> User:
    """The account the rules act as, created on first use.

    A named service account rather than "no actor": escalations need someone who filed
    them, and the audit log and timelines then say plainly that a rule, not a person,
    did it. It is an analyst (the least role that may open escalations and add notes; it
    cannot approve decisions or override severity) on the site-policy team, with no
    usable password, so nobody can sign in as it.
    """
    account = User.objects.filter(username=RULES_ACCOUNT).first()
    if account is not None:
        return account
    from watchfloor.people.services import create_user

    team = Team.objects.filter(kind=Team.Kind.SITE_POLICY).order_by("pk").first()
    try:
        with transaction.atomic():
            return create_user(
                username=RULES_ACCOUNT,
                password=None,
                role=Role.ANALYST,
                actor=None,
                team=team,
                time_zone="UTC",
                first_name="Auto-escalation",
                last_name="rules",
            )
    except (IntegrityError, InvalidInput):
        return User.objects.get(username=RULES_ACCOUNT)


def _source_fields(cluster: Cluster | None, signal_source: str | None) -> dict[str, Any]:
    kind = ESCALATION_SOURCE_FOR_SIGNAL.get(signal_source or "", SourceKind.INTERNAL)
    fields = {"source_kind": kind, "source_team_code": ""}
    if kind == SourceKind.PARTNER_TEAM:
        team_code = ""
        if cluster is not None:
            attributes = (
                cluster.signals.filter(source="partner_referral")
                .order_by("received_at")
                .values_list("attributes", flat=True)
                .first()
            ) or {}
            team_code = (
                str(attributes.get("partner_team", "")) if isinstance(attributes, dict) else ""
            )
        if team_code and Team.objects.filter(code=team_code, kind=Team.Kind.PARTNER).exists():
            fields["source_team_code"] = team_code
        else:
            fields["source_kind"] = SourceKind.INTERNAL  # a partner referral that names no team
    return fields


def _title_values(rule: RuleSpec, match: Match, **values: Any) -> dict[str, Any]:
    return {"rule": rule.name, "ratio": f"{match.figures.get('ratio', '')}", **values}


def _summary(rule: RuleSpec, ruleset: RuleSet, match: Match, facts: str) -> str:
    why = "\n".join(f"- {condition}" for condition in match.conditions)
    return (
        f"Opened by the auto-escalation rule “{rule.name}” ({rule.code}, rules version "
        f"{ruleset.version}).\n\nWhy:\n{why}\n\n{facts}"
    )


def _open_escalations(account: User) -> QuerySet[Escalation]:
    return escalations_visible_to(account).filter(
        status__in=OPEN_STATUSES, merged_into__isnull=True
    )


def _attach_candidate(
    *, account: User, type_code: str, markets: list[str], within: timedelta
) -> Escalation | None:
    """The newest open escalation of the type in one of ``markets``: a loose match (an
    unrelated scam in the same country is one), so it is attached to only where a rule
    says ``attach: same_type_and_market``, and otherwise only proposed."""
    candidates = _open_escalations(account).filter(
        type__code=type_code, opened_at__gte=clock.now() - within
    )
    if markets:
        candidates = candidates.filter(markets__code__in=markets)
    else:
        candidates = candidates.filter(markets__isnull=True)
    return candidates.order_by("-opened_at", "-pk").first()


def _shared_key_target(*, account: User, cluster: Cluster) -> tuple[Escalation, str] | None:
    """An open escalation that shares a key with ``cluster``, and the key in words.

    A key is shared when a cluster already on the escalation is related to this one (a
    signal matched both: the same subject, URL, media hash or near-identical text), or
    when the cluster's subject or URL is among the escalation's subjects.
    """
    open_escalations = _open_escalations(account)
    relations = ClusterRelation.objects.filter(Q(cluster=cluster) | Q(related=cluster))
    kind_of: dict[int, str] = {}
    for one, other, kind in relations.values_list("cluster_id", "related_id", "key_kind"):
        kind_of.setdefault(other if one == cluster.pk else one, kind)
    if kind_of:
        related = (
            Cluster.objects.filter(pk__in=kind_of, escalation__in=open_escalations)
            .select_related("escalation")
            .order_by("-escalation__opened_at", "-escalation_id")
            .first()
        )
        if related is not None and related.escalation is not None:
            label = KeyKind(kind_of[related.pk]).label.lower()
            return related.escalation, f"{label} as cluster C-{related.pk}, already on it"
    references = {ref[:2000] for ref in (cluster.subject_ref, cluster.representative_url) if ref}
    if references:
        target = (
            open_escalations.filter(subjects__reference__in=references)
            .order_by("-opened_at", "-pk")
            .first()
        )
        if target is not None:
            return target, "the cluster's subject or URL is among its subjects"
    return None


def _proposal_note(*, rule: RuleSpec, candidate: Escalation, what: str) -> str:
    return (
        f"Proposed, not attached: {candidate.reference} is open with the "
        f"same type and market, but nothing ties {what} to it (no shared subject, URL, "
        f"media hash or near-identical text). If they are the same matter, merge this "
        f"escalation into {candidate.reference}. (Auto-escalation rule {rule.code}; a rule "
        "with attach: same_type_and_market attaches on type and market alone.)"
    )


def _opened(
    created: Escalation,
    *,
    proposal: Escalation | None,
    rule: RuleSpec,
    account: User,
    what: str,
) -> tuple[str, Escalation | None, str]:
    """The outcome of a firing that opened ``created``; where an open escalation of the
    same type and market shares no key with ``what``, it is proposed in a note, not
    attached."""
    if proposal is None:
        return "opened", created, f"opened {created.reference}"
    add_note(
        escalation=created,
        body=_proposal_note(rule=rule, candidate=proposal, what=what),
        actor=account,
    )
    return (
        "opened",
        created,
        f"opened {created.reference}; proposed {proposal.reference} (same type and "
        "market, no shared key)",
    )


def _fire_on_cluster(
    *, rule: RuleSpec, ruleset: RuleSet, match: Match, cluster: Cluster, account: User
) -> tuple[str, Escalation | None, str]:
    """Open or attach; returns (outcome, escalation, what was done in words)."""
    action = rule.escalate
    now = clock.now()
    type_code = escalation_type_for(rule, match)
    owner = None
    if cluster.escalation_id is not None:
        owner = escalations_visible_to(account).filter(pk=cluster.escalation_id).first()
        if owner is None:
            return "skipped", None, "the cluster belongs to an escalation the rules cannot see"
        if not owner.is_open:
            owner = None  # closed since: the cluster's new activity is new work
    facts = cluster_facts(cluster)
    conditions = "\n".join(f"- {condition}" for condition in match.conditions)
    note = (
        f"Auto-escalation rule “{rule.name}” ({rule.code}) matched cluster C-{cluster.pk}:\n"
        f"{conditions}\n\n{facts}"
    )
    proposal = None
    if action.attach != "never":
        target, why = owner, "its own escalation"
        if target is None:
            target, why = _shared_key_target(account=account, cluster=cluster) or (None, "")
        loose = None
        if target is None:
            loose = _attach_candidate(
                account=account,
                type_code=type_code,
                markets=[m for m, _ in tally_rows(cluster.markets)],
                within=action.attach_within,
            )
        if loose is not None and action.attach == "same_type_and_market":
            target, why = loose, "the rule attaches on type and market"
        else:
            proposal = loose
        if target is not None:
            if cluster.escalation_id != target.pk:
                link_cluster(cluster, target, now=now)
            add_note(escalation=target, body=f"{note}\n\nAttached: {why}.", actor=account)
            return "attached", target, f"attached to {target.reference} ({why})"
    markets = known_markets(m for m, _ in tally_rows(cluster.markets, limit=20))
    languages = valid_languages(tag for tag, _ in tally_rows(cluster.languages))
    sources = [s for s, _ in tally_rows(cluster.sources)]
    representative = representative_of(cluster)
    title = render_title(
        action.title or "{rule}: {representative}",
        _title_values(
            rule,
            match,
            representative=representative,
            markets=", ".join(markets) or "no market",
            languages=", ".join(languages) or "language unknown",
            policy=", ".join(p.replace("_", " ") for p, _ in tally_rows(cluster.policy_hints))
            or "no policy hint",
            sources=", ".join(s.replace("_", " ") for s in sources),
            signals=cluster.signal_count,
        ),
    )
    created = create_escalation(
        actor=account,
        details=EscalationInput(
            type_code=type_code,
            title=title[:200],
            summary=_summary(rule, ruleset, match, facts),
            markets=markets,
            languages=languages,
            subjects=subjects_for(cluster),
            source_detail=f"Auto-escalation rule {rule.code} on cluster C-{cluster.pk}"[:500],
            rubric_answers=dict(action.rubric),
            **_source_fields(cluster, match.chosen_source or (sources[0] if sources else None)),
        ),
    )
    if owner is not None:
        # The cluster stays with the escalation that has it; the new one is linked to it.
        link_escalations(
            escalation=created, other=owner, actor=account, reason=f"same cluster C-{cluster.pk}"
        )
        return "opened", created, f"opened {created.reference}, linked to {owner.reference}"
    link_cluster(cluster, created, now=now)
    return _opened(
        created, proposal=proposal, rule=rule, account=account, what=f"cluster C-{cluster.pk}"
    )


def _fire_on_series(
    *, rule: RuleSpec, ruleset: RuleSet, match: Match, alert: SurgeAlert, account: User
) -> tuple[str, Escalation | None, str]:
    action = rule.escalate
    markets = known_markets([alert.market])
    subject = describe_surge_subject(alert)
    explanation = surge_explanation(alert)
    conditions = "\n".join(f"- {condition}" for condition in match.conditions)
    facts = f"Surge in {subject} since {alert.started_at:%Y-%m-%d %H:%M} UTC: {explanation}."
    # A series (market × policy × language) has no subject, URL, hash or text of its own
    # to share: it is noted on an escalation of its type and market only where the rule
    # says so, and otherwise that escalation is proposed on the one it opens.
    proposal = None
    if action.attach != "never":
        candidate = _attach_candidate(
            account=account, type_code=action.type, markets=markets, within=action.attach_within
        )
        if candidate is not None and action.attach == "same_type_and_market":
            add_note(
                escalation=candidate,
                body=f"Auto-escalation rule “{rule.name}” ({rule.code}) matched a surge:\n"
                f"{conditions}\n\n{facts}",
                actor=account,
            )
            return "attached", candidate, f"noted on {candidate.reference}"
        proposal = candidate
    title = render_title(
        action.title or "{rule}: {representative}",
        _title_values(
            rule,
            match,
            representative=f"surge in {subject}",
            markets=", ".join(markets) or "no market",
            languages=alert.language or "language unknown",
            policy=(alert.policy or "no policy hint").replace("_", " "),
            sources="",
            signals=round(alert.current_rate * alert.window / timedelta(hours=1)),
        ),
    )
    created = create_escalation(
        actor=account,
        details=EscalationInput(
            type_code=action.type,
            title=title[:200],
            summary=_summary(rule, ruleset, match, facts),
            markets=markets,
            languages=valid_languages([alert.language]),
            source_kind=SourceKind.DETECTOR,
            source_detail=f"Auto-escalation rule {rule.code} on surge alert {alert.pk}"[:500],
            rubric_answers=dict(action.rubric),
        ),
    )
    return _opened(
        created, proposal=proposal, rule=rule, account=account, what=f"the surge in {subject}"
    )


def apply_rule(
    *,
    rule: RuleSpec,
    ruleset: RuleSet,
    match: Match,
    cluster: Cluster | None = None,
    alert: SurgeAlert | None = None,
    account: User | None = None,
) -> RuleFiring | None:
    """Act on a match, once: open or attach, record the firing with its evidence, audit.

    Returns None when the rule had already fired for this cluster (or series alert). A
    rule whose action fails (an escalation type no longer in the catalog, say) is recorded
    as skipped, with the reason, so it is not retried on every batch. ``account`` is
    ``rules_account()``, passed by a caller that fires many rules.
    """
    if (cluster is None) == (alert is None):
        raise ValueError("give either a cluster or a series surge alert")
    if account is None:
        account = rules_account()
    elif account.get_username() != RULES_ACCOUNT:
        raise ValueError(f"rules act as {RULES_ACCOUNT}, not {account.get_username()}")
    try:
        with transaction.atomic():
            if cluster is not None:
                cluster = locked_cluster(cluster)
                fired = RuleFiring.objects.filter(rule_code=rule.code, cluster=cluster)
            else:
                assert alert is not None, "checked above: a cluster or an alert"
                alert = SurgeAlert.objects.select_for_update().get(pk=alert.pk)
                fired = RuleFiring.objects.filter(
                    rule_code=rule.code, cluster__isnull=True, surge=alert
                )
            if fired.exists():
                return None
            evidence = match.as_evidence()
            try:
                with transaction.atomic():
                    if cluster is not None:
                        outcome, escalation, done = _fire_on_cluster(
                            rule=rule,
                            ruleset=ruleset,
                            match=match,
                            cluster=cluster,
                            account=account,
                        )
                    else:
                        assert alert is not None, "checked above: a cluster or an alert"
                        outcome, escalation, done = _fire_on_series(
                            rule=rule, ruleset=ruleset, match=match, alert=alert, account=account
                        )
            except WatchfloorError as error:
                outcome, escalation, done = "skipped", None, f"could not act: {error.message}"
            evidence["action"] = done
            surge_id = match.figures.get("surge")
            firing = RuleFiring.objects.create(
                rule_code=rule.code,
                rule_version=ruleset.version[:64],
                cluster=cluster,
                surge_id=surge_id,
                escalation=escalation,
                outcome=outcome,
                evidence=evidence,
                fired_at=clock.now(),
            )
            record_event(
                action=AuditAction.SIGNALS_RULE_FIRED,
                actor=account,
                target=firing,
                escalation_id=escalation.pk if escalation else None,
                data={
                    "rule": rule.code,
                    "rule_version": ruleset.version,
                    "outcome": outcome,
                    "action": done,
                    "cluster": cluster.pk if cluster else None,
                    "surge": surge_id,
                    "escalation": escalation.reference if escalation else None,
                    "evidence": evidence,
                },
            )
            return firing
    except IntegrityError:
        return None  # fired by another worker at the same moment
