"""The handoff packet: what the outgoing commander passes to the incoming one at a change
of shift — the state, open decisions and asks, owners changing, the deadlines of the next
shift and the risks. Built from the record as the outgoing commander may see it, and kept
(as JSON) exactly as confirmed.

Everyone who may open the crisis reads the packet, partners included, so it is never
shown as the commander saw it: every part that comes from an escalation carries that
escalation's id (``escalation_id``), and :func:`packet_for_reader` keeps only the parts
about escalations the reader may see, and counts only those. The parts about the crisis
itself (its level, roles, key facts, the sitrep and handoff times) are for every reader.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from watchfloor.crises import selectors
from watchfloor.crises.config import CrisisConfig
from watchfloor.crises.models import Crisis, Level, RoleKind
from watchfloor.crises.shifts import HandoffTime, following_handoff

if TYPE_CHECKING:
    from watchfloor.people.models import User


# The packet's shape: 2 keeps every escalation's part apart (``escalation_id``); packets
# confirmed before were brought to it by migration 0005.
PACKET_VERSION = 2
# The lists of the packet whose items may come from an escalation.
ESCALATION_PARTS = ("escalations", "open_decisions", "open_asks", "deadlines", "risks")


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def build_packet(
    *,
    crisis: Crisis,
    handoff: HandoffTime,
    viewer: User,
    now: datetime,
    config: CrisisConfig,
    outgoing: User | None,
    incoming: User | None,
    risks: str = "",
) -> dict[str, Any]:
    links = selectors.visible_links(crisis=crisis, viewer=viewer)
    current = selectors.current_assignments(crisis)
    shift_end = following_handoff(config.settings.handoffs.regions, handoff)
    in_shift = selectors.crisis_deadlines(
        crisis=crisis,
        viewer=viewer,
        links=links,
        now=now,
        config=config,
        handoff=shift_end,
        until=shift_end.at,
        since=handoff.at,
    )
    everything_now = selectors.crisis_deadlines(
        crisis=crisis, viewer=viewer, links=links, now=now, config=config, handoff=None
    )
    pinned = list(selectors.pinned_notes(crisis).order_by("created_at", "pk"))
    slots = selectors.role_slots(
        market_codes=list(crisis.markets.values_list("code", flat=True)), current=current
    )

    # Each risk says which escalation it comes from (None: the crisis itself).
    risks_found: list[dict[str, Any]] = []
    clock_state = selectors.sitrep_clock(crisis, now=now, config=config)
    if clock_state.state == "overdue":
        risks_found.append({"text": "The sitrep is overdue.", "escalation_id": None})
    for deadline in everything_now:
        if deadline.is_breached and deadline.kind in ("statutory", "step"):
            risks_found.append(
                {
                    "text": f"Breached: {deadline.label} ({deadline.source}).",
                    "escalation_id": deadline.escalation_id,
                }
            )
    risks_found.extend(
        {"text": f"No owner: {link.escalation.reference}.", "escalation_id": link.escalation_id}
        for link in links
        if link.escalation.is_open and not link.escalation.owner_id
    )
    open_roles = [slot.label for slot in slots if slot.holder is None]
    if open_roles:
        risks_found.append({"text": f"Roles open: {', '.join(open_roles)}.", "escalation_id": None})

    owners_changing = []
    if outgoing and incoming and outgoing.pk != incoming.pk:
        owners_changing.append(
            {
                "role": RoleKind.INCIDENT_COMMANDER.label,
                "from": outgoing.display_name,
                "to": incoming.display_name,
            }
        )
    return {
        "version": PACKET_VERSION,
        "handoff_at": _iso(handoff.at),
        "from_region": handoff.from_region.code,
        "from_region_name": handoff.from_region.name,
        "to_region": handoff.to_region.code,
        "to_region_name": handoff.to_region.name,
        "shift_ends_at": _iso(shift_end.at),
        "prepared_at": _iso(now),
        "state": {
            "title": crisis.title,
            "level": Level(crisis.level).label,
            "summary": crisis.summary,
            "next_sitrep_due_at": _iso(crisis.next_sitrep_due_at),
            "commander": outgoing.display_name if outgoing else None,
            "key_facts": [note.body for note in pinned],
            "roles": [
                {"role": slot.label, "holder": slot.holder.display_name if slot.holder else None}
                for slot in slots
            ],
        },
        # Counted for each reader among the escalations they may see.
        "escalations": [
            {
                "escalation_id": link.escalation_id,
                "reference": link.escalation.reference,
                "is_open": link.escalation.is_open,
            }
            for link in links
        ],
        "open_decisions": [
            {
                "escalation_id": decision.escalation_id,
                "escalation": f"WF-{decision.escalation_id}",
                "text": f"{decision.action.label} under {decision.policy_version.policy.name} "
                f"v{decision.policy_version.version}, awaiting approval",
                "since": _iso(decision.decided_at),
            }
            for decision in selectors.pending_decisions(links)
        ],
        "open_asks": [
            {
                "escalation_id": row.request.escalation_id,
                "escalation": f"WF-{row.request.escalation_id}",
                "text": f"{row.request.get_kind_display()} ({row.request.reference}), due "
                f"{_iso(row.request.due_at)}" + (" — overdue" if row.is_overdue else ""),
                "team": row.request.team.code,
            }
            for row in selectors.open_partner_requests(
                viewer=viewer, escalation_ids=[link.escalation_id for link in links], now=now
            )
        ]
        + [
            {"escalation_id": pk, "escalation": f"WF-{pk}", "text": title, "team": team}
            for pk, title, team in selectors.partner_owned_open_steps(
                viewer=viewer, escalation_ids=[link.escalation_id for link in links]
            )
        ],
        "owners_changing": owners_changing,
        "deadlines": [
            {
                "escalation_id": d.escalation_id,
                "due_at": _iso(d.due_at),
                "label": d.label,
                "source": d.source,
                "basis": d.basis,
                "breached": d.is_breached,
            }
            for d in in_shift
        ],
        "risks": risks_found,
        "risks_noted": risks,
    }


def packet_for_reader(
    packet: dict[str, Any], *, visible_escalation_ids: set[int]
) -> dict[str, Any]:
    """The packet as one reader may read it: of the parts that come from an escalation,
    only those about escalations in ``visible_escalation_ids``; the counts of escalations
    among those; each risk as its text. Nothing marks what was left out."""
    shown = dict(packet)
    for part in ESCALATION_PARTS:
        shown[part] = [
            item
            for item in packet.get(part) or []
            if isinstance(item, dict)
            and (
                item.get("escalation_id") is None or item["escalation_id"] in visible_escalation_ids
            )
        ]
    escalations = shown.pop("escalations")
    shown["state"] = {
        **(packet.get("state") or {}),
        "escalations_open": sum(1 for e in escalations if e.get("is_open")),
        "escalations_total": len(escalations),
    }
    shown["risks"] = [str(risk.get("text", "")) for risk in shown["risks"]]
    return shown
