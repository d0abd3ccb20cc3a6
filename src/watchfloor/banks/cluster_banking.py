"""Hash banks seen from signals and crises: "bank this" on a cluster's media (every media
hash its signals carry, or the one a signal carries) and the matches against a crisis's
banks in its war room.

Need to know: the caller checked that the viewer may see the cluster or the crisis; the
banks shown and written are only those ``selectors.banks_visible_to`` the viewer.
Each reader costs a fixed number of queries, whatever the number of signals, hashes,
banks or matches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db.models import Count, F, Max, Q
from django.urls import reverse

from watchfloor.banks import selectors
from watchfloor.banks.models import Bank, BankEntry, EntrySource, Match, SignalType
from watchfloor.banks.services import MIN_PDQ_QUALITY, NewEntry, add_entries
from watchfloor.core.errors import InvalidInput
from watchfloor.core.roles import can_work_escalations
from watchfloor.crises.models import CrisisCluster
from watchfloor.evidence.hooks import ItemLink
from watchfloor.signals.models import Signal
from watchfloor.signals.permissions import can_see_signals

if TYPE_CHECKING:
    from watchfloor.crises.models import Crisis
    from watchfloor.people.models import User
    from watchfloor.signals.models import Cluster

# The most hashes of each type a cluster page offers (the most carried first).
MAX_HASHES_PER_TYPE = 100
MAX_NOTE = 2000
RECENT_MATCHES = 10
RECENT_WINDOW = timedelta(hours=24)
BANKABLE_TYPES = (SignalType.PDQ, SignalType.MD5, SignalType.SHA256)


@dataclass(frozen=True)
class ClusterHash:
    """One media hash carried by the cluster's signals."""

    signal_type: SignalType
    value: str
    signals: int
    quality: int | None = None  # PDQ only: the best quality a signal reported

    @property
    def too_poor(self) -> bool:
        """A PDQ whose reported quality is below the bar (a producer may not report it:
        unknown is not poor; the evidence page computes it, signals carry what was sent)."""
        return (
            self.signal_type == SignalType.PDQ
            and self.quality is not None
            and self.quality < MIN_PDQ_QUALITY
        )


def cluster_hashes(cluster: Cluster) -> list[ClusterHash]:
    """The distinct media hashes of the cluster's signals (quarantined ones left out),
    the most carried first; three queries."""
    live = Signal.objects.filter(cluster=cluster, quarantined_at__isnull=True)
    pdq = (
        live.exclude(media_pdq=None)
        .values("media_pdq")
        .annotate(n=Count("id"), quality=Max("media_pdq_quality"))
        .order_by("-n", "media_pdq")[:MAX_HASHES_PER_TYPE]
    )
    found = [
        ClusterHash(SignalType.PDQ, bytes(row["media_pdq"] or b"").hex(), row["n"], row["quality"])
        for row in pdq
    ]
    for kind, column in ((SignalType.MD5, "media_md5"), (SignalType.SHA256, "media_sha256")):
        rows = (
            live.exclude(**{column: ""})
            .values(column)
            .annotate(n=Count("id"))
            .order_by("-n", column)[:MAX_HASHES_PER_TYPE]
        )
        found += [ClusterHash(kind, row[column].lower(), row["n"]) for row in rows]
    return found


def has_media(cluster: Cluster) -> bool:
    return (
        Signal.objects.filter(cluster=cluster, quarantined_at__isnull=True)
        .filter(~Q(media_pdq=None) | ~Q(media_md5="") | ~Q(media_sha256=""))
        .exists()
    )


def banks_for_cluster(viewer: User, cluster: Cluster) -> list[Bank]:
    """The viewer's visible photo and file-hash banks: the banks of the cluster's crises
    first, then other crisis banks, then the rest, allow banks (known benign) last."""
    crises = set(CrisisCluster.objects.filter(cluster=cluster).values_list("crisis_id", flat=True))
    banks = selectors.banks_visible_to(viewer).filter(signal_type__in=BANKABLE_TYPES)
    return sorted(
        banks,
        key=lambda b: (b.is_allow_bank, b.crisis_id not in crises, b.crisis_id is None, b.name),
    )


@dataclass
class ClusterBanking:
    bank: Bank
    added: list[BankEntry] = field(default_factory=list)
    already: int = 0
    # (hash, reason) for each chosen hash that could not go in; the others did.
    skipped: list[tuple[str, str]] = field(default_factory=list)


def bank_cluster_media(
    *,
    bank: Bank,
    cluster: Cluster,
    values: Sequence[str],
    actor: User,
    note: str = "",
) -> ClusterBanking:
    """ "Bank this" on a cluster: the chosen media hashes of its signals (when none is
    chosen, all of the bank's type) as entries whose note names the cluster.
    A hash of another type or a PDQ of low quality is left out and named; a hash banked
    already is counted, not added twice. The caller checked that ``actor`` may see the
    cluster and the bank and may curate banks."""
    if len(note) > MAX_NOTE:
        raise InvalidInput(f"a note is at most {MAX_NOTE} characters", field="note")
    offered = {h.value: h for h in cluster_hashes(cluster)}
    chosen: list[ClusterHash] = []
    for index, value in enumerate(values):
        found = offered.get((value or "").strip().lower())
        if found is None:
            raise InvalidInput(
                f"{value[:80]!r} is not a media hash of cluster C-{cluster.pk}",
                field=f"hashes[{index}]",
            )
        chosen.append(found)
    result = ClusterBanking(bank=bank)
    fitting: list[ClusterHash] = []
    # None ticked: every hash of the bank's type (the others were never in question).
    of_type = [h for h in offered.values() if h.signal_type == bank.signal_type]
    for item in chosen or of_type:
        if item.signal_type != bank.signal_type:
            result.skipped.append(
                (item.value, f"a {item.signal_type.label}: bank {bank.name} holds another type")
            )
        elif item.too_poor:
            result.skipped.append(
                (
                    item.value,
                    f"PDQ quality {item.quality}, below {MIN_PDQ_QUALITY}: "
                    "it would match unrelated images",
                )
            )
        else:
            fitting.append(item)
    if not fitting:
        raise InvalidInput(
            f"none of the chosen hashes can go into bank {bank.name}"
            + (
                f": {result.skipped[0][1]}"
                if result.skipped
                else f": the cluster's signals carry no {SignalType(bank.signal_type).label}"
            ),
            field="bank",
        )
    described = f"cluster C-{cluster.pk}"
    result.added = add_entries(
        bank=bank,
        entries=[
            NewEntry(
                signal_type=bank.signal_type,
                value=item.value,
                note=f"{described}, {item.signals} signal{'s' if item.signals != 1 else ''}"
                + (f": {note.strip()}" if note.strip() else ""),
            )
            for item in fitting
        ],
        source=EntrySource.SIGNAL,
        actor=actor,
    )
    result.already = len(fitting) - len(result.added)
    return result


def cluster_bank_link(*, cluster: Cluster, viewer: User, now: datetime) -> ItemLink | None:
    """The cluster page's "Bank this" link (``signals.hooks.register_cluster_panel``), for
    those who may curate banks, when the cluster's signals carry media hashes."""
    if not can_work_escalations(viewer) or not has_media(cluster):
        return None
    return ItemLink(
        label="Bank this cluster's media",
        url=reverse("bank-cluster", args=[cluster.pk]),
        hint="add its signals' PDQ, MD5 or SHA-256 hashes to a hash bank, so copies are found",
    )


# ---------------------------------------------------------------- the war room


@dataclass(frozen=True)
class CrisisBankRow:
    bank: Bank
    entries: int
    matches_recent: int
    matches_total: int


@dataclass(frozen=True)
class CrisisMatches:
    banks: list[CrisisBankRow]
    recent: Sequence[Match]
    window: timedelta
    may_see_clusters: bool


def crisis_matches(*, crisis: Crisis, viewer: User, now: datetime) -> CrisisMatches | None:
    """The war room's hash-bank panel (``crises.hooks.register_war_room_panel``): the
    crisis's banks the viewer may see, their matches in the last 24 hours and in all, and
    the latest matches; None when the viewer sees no bank of the crisis. Two queries."""
    since = now - RECENT_WINDOW
    banks = list(
        selectors.banks_visible_to(viewer)
        .filter(crisis=crisis)
        .annotate(
            live_entries=selectors.count_per_bank(
                BankEntry.objects.filter(disabled_at__isnull=True)
            ),
            recent=selectors.count_per_bank(Match.objects.filter(matched_at__gte=since)),
            total=selectors.count_per_bank(Match.objects.all()),
        )
        .order_by("name")
    )
    if not banks:
        return None
    recent = list(
        Match.objects.filter(bank__in=[bank.pk for bank in banks])
        .select_related("bank")
        .annotate(cluster_id=F("signal__cluster_id"))
        .order_by("-matched_at", "-id")[:RECENT_MATCHES]
    )
    return CrisisMatches(
        banks=[
            CrisisBankRow(
                bank=bank,
                entries=bank.live_entries,
                matches_recent=bank.recent,
                matches_total=bank.total,
            )
            for bank in banks
        ],
        recent=recent,
        window=RECENT_WINDOW,
        may_see_clusters=can_see_signals(viewer),
    )
