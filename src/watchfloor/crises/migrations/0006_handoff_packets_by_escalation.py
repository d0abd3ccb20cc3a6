"""Handoff packets confirmed before each part carried its escalation's id: tag every part
that names an escalation with that escalation's id, so each reader is shown only the
parts about escalations they may see (``crises.handoffs.packet_for_reader``).

A part that names an escalation only in its text (a risk such as "No owner: WF-3, WF-7.")
is split into one part per escalation; the counts of escalations, which covered what the
outgoing commander saw, are dropped (they cannot be told apart now) and read as none.
"""

from __future__ import annotations

import re

from django.db import migrations

REFERENCE = re.compile(r"\bWF-(\d+)\b")


def _id(reference):
    match = REFERENCE.search(str(reference or ""))
    return int(match.group(1)) if match else None


def _risks(risks):
    tagged = []
    for risk in risks or []:
        text = str(risk)
        found = [int(pk) for pk in REFERENCE.findall(text)]
        if text.startswith("No owner: ") and found:
            tagged.extend({"text": f"No owner: WF-{pk}.", "escalation_id": pk} for pk in found)
        elif len(found) > 1:
            # Names several cases: shown to nobody rather than to the wrong reader.
            tagged.append({"text": text, "escalation_id": -1})
        else:
            tagged.append({"text": text, "escalation_id": found[0] if found else None})
    return tagged


def tag_packets(apps, schema_editor):
    Handoff = apps.get_model("crises", "Handoff")
    for handoff in Handoff.objects.all().iterator():
        packet = dict(handoff.packet or {})
        if packet.get("version", 1) >= 2:
            continue
        for part in ("open_decisions", "open_asks"):
            packet[part] = [
                {**item, "escalation_id": _id(item.get("escalation"))}
                for item in packet.get(part) or []
                if isinstance(item, dict)
            ]
        packet["deadlines"] = [
            {**item, "escalation_id": _id(item.get("source"))}
            for item in packet.get("deadlines") or []
            if isinstance(item, dict)
        ]
        packet["risks"] = _risks(packet.get("risks"))
        packet["escalations"] = []
        state = dict(packet.get("state") or {})
        state.pop("escalations_open", None)
        state.pop("escalations_total", None)
        packet["state"] = state
        packet["version"] = 2
        handoff.packet = packet
        handoff.save(update_fields=["packet"])


class Migration(migrations.Migration):
    dependencies = [("crises", "0005_drills_move_to_their_own_app")]

    operations = [migrations.RunPython(tag_packets, migrations.RunPython.noop)]
