"""Pages of the banks app: the banks list, a bank's page, the match page, "bank this" on
an evidence item and on a cluster's media, and carrying out a decision from the
escalation page."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from watchfloor.audit.selectors import log_position
from watchfloor.banks import cluster_banking, matching, selectors, services
from watchfloor.banks.actioner import carry_out_decision
from watchfloor.banks.exchange_feedback import record_opinion
from watchfloor.banks.models import BankEntry, EntrySource, Opinion, SignalType
from watchfloor.core import clock
from watchfloor.core.errors import InvalidInput, StaleEdit, WatchfloorError
from watchfloor.core.roles import Role, can_work_escalations
from watchfloor.core.validation import require
from watchfloor.escalations.decisions import get_decision
from watchfloor.escalations.selectors import access_escalation
from watchfloor.evidence.hooks import ItemLink
from watchfloor.evidence.selectors import access_evidence
from watchfloor.people.http import AuthenticatedRequest
from watchfloor.signals.selectors import access_cluster
from watchfloor.web.forms import ServiceErrorForm
from watchfloor.web.views import shows_domain_errors

if TYPE_CHECKING:
    from watchfloor.evidence.models import EvidenceItem
    from watchfloor.people.models import User

ENTRIES_PER_PAGE = 100
MAX_MATCH_TEXT = 200_000


@login_required
@require_POST
@shows_domain_errors
def escalation_enforce(request: AuthenticatedRequest, escalation_id: int) -> HttpResponse:
    """Send a final decision of the escalation through a connector, on its items."""
    escalation = access_escalation(actor=request.user, escalation_id=escalation_id)
    decision = get_decision(escalation=escalation, decision_id=request.POST.get("decision", ""))
    try:
        sent = carry_out_decision(
            decision=decision,
            connector_code=request.POST.get("connector", ""),
            actor=request.user,
        )
    except WatchfloorError as error:
        if error.http_status in (403, 404):
            raise
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            f"{sent.action.label} requested on {sent.item_count} item"
            f"{'s' if sent.item_count != 1 else ''} through {sent.connector.name}.",
        )
    return redirect(reverse("escalation-detail", args=[escalation.pk]) + "#enforcement")


# -- the banks pages ---------------------------------------------------------------


def _may_curate(user: User) -> bool:
    return can_work_escalations(user)


def is_internal(user: User) -> bool:
    """Partners reach banks through the API only (their own team's)."""
    return user.role != Role.PARTNER


@login_required
@require_GET
@shows_domain_errors
def bank_list(request: AuthenticatedRequest) -> HttpResponse:
    require(is_internal(request.user), "partners see banks through the API only")
    banks = list(selectors.bank_list_for(request.user, now=clock.now()))
    return render(
        request,
        "banks/list.html",
        {"banks": banks, "recent_days": selectors.RECENT_MATCH_DAYS},
    )


@login_required
@require_GET
@shows_domain_errors
def bank_detail(request: AuthenticatedRequest, bank_name: str) -> HttpResponse:
    bank = selectors.access_bank(request.user, bank_name)
    read_version = log_position()
    paginator = Paginator(selectors.entries_for_page(bank), ENTRIES_PER_PAGE)
    entries = paginator.get_page(request.GET.get("page"))
    days = selectors.matches_per_day(bank, now=clock.now())
    return render(
        request,
        "banks/detail.html",
        {
            "bank": bank,
            "entries": entries,
            "read_version": read_version,
            "days": days,
            "busiest": max([day.count for day in days] + [1]),
            "history_days": selectors.HISTORY_DAYS,
            "reviews": selectors.review_figures(bank),
            "may_curate": _may_curate(request.user),
            "entry_form": EntryForm(),
            "max_reason": services.MAX_REASON,
            "exchanges": list(selectors.exchanges_of(bank)),
            "opinions": Opinion.choices,
        },
    )


class EntryForm(ServiceErrorForm):
    value = forms.CharField(max_length=2000, label="Hash or value")
    labels = forms.CharField(max_length=500, required=False, help_text="separated by spaces")
    note = forms.CharField(max_length=services.MAX_NOTE, required=False)
    service_fields = {"entries[0].signal_value": "value", "entries[0].note": "note"}


@login_required
@require_POST
@shows_domain_errors
def bank_entry_add(request: AuthenticatedRequest, bank_name: str) -> HttpResponse:
    bank = selectors.access_bank(request.user, bank_name)
    require(_may_curate(request.user), "your role cannot curate banks")
    form = EntryForm(request.POST)
    if form.is_valid():
        entry = services.NewEntry(
            signal_type=bank.signal_type,
            value=form.cleaned_data["value"],
            labels=tuple(form.cleaned_data["labels"].split()),
            note=form.cleaned_data["note"],
        )
        try:
            created = services.add_entries(
                bank=bank, entries=[entry], source=EntrySource.MANUAL, actor=request.user
            )
        except InvalidInput as error:
            form.add_service_error(error)
        else:
            if created:
                messages.success(request, f"Entry {created[0].pk} added; it matches from now on.")
            else:
                messages.info(request, "That value is in the bank already.")
            return redirect("bank-detail", bank_name=bank.name)
    for field_errors in form.errors.values():
        for message in field_errors:
            messages.error(request, str(message))
    return redirect("bank-detail", bank_name=bank.name)


@login_required
@require_POST
@shows_domain_errors
def bank_entry_switch(request: AuthenticatedRequest, bank_name: str, entry_id: int) -> HttpResponse:
    """Disable an entry with a reason, or enable it again; the form carries the version
    the page was read at, so a switch somebody else flipped meanwhile is refused."""
    bank = selectors.access_bank(request.user, bank_name)
    require(_may_curate(request.user), "your role cannot curate banks")
    entry = get_object_or_404(BankEntry, bank=bank, pk=entry_id)
    read_version = parse_read_version(request.POST.get("read_version", ""))
    try:
        if request.POST.get("enabled") == "off":
            services.disable_entry(
                entry=entry,
                reason=request.POST.get("reason", ""),
                actor=request.user,
                read_version=read_version,
            )
            messages.success(request, f"Entry {entry.pk} disabled; it no longer matches.")
        else:
            services.enable_entry(entry=entry, actor=request.user, read_version=read_version)
            messages.success(request, f"Entry {entry.pk} enabled again.")
    except (InvalidInput, StaleEdit) as error:
        messages.error(request, error.message)
    return redirect(reverse("bank-detail", args=[bank.name]) + f"#entry-{entry.pk}")


@login_required
@require_POST
@shows_domain_errors
def bank_entry_opinion(
    request: AuthenticatedRequest, bank_name: str, entry_id: int
) -> HttpResponse:
    """Confirm or dispute an exchange's entry after review; sent back by the worker."""
    bank = selectors.access_bank(request.user, bank_name)
    require(_may_curate(request.user), "your role cannot curate banks")
    entry = get_object_or_404(BankEntry.objects.select_related("exchange"), bank=bank, pk=entry_id)
    try:
        feedback = record_opinion(
            entry=entry,
            opinion=request.POST.get("opinion", ""),
            actor=request.user,
            note=request.POST.get("note", ""),
        )
    except InvalidInput as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            f"Entry {entry.pk}: {feedback.get_opinion_display().lower()} recorded; it is sent "
            f"back to {entry.exchange.name if entry.exchange else 'the exchange'} shortly.",
        )
    return redirect(reverse("bank-detail", args=[bank.name]) + f"#entry-{entry.pk}")


def parse_read_version(raw: str) -> int | None:
    if not raw:
        return None
    if not raw.isdigit():
        raise InvalidInput("the page's version is not a number; reload it", field="read_version")
    return int(raw)


class MatchForm(ServiceErrorForm):
    hashes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false"}),
        required=False,
        max_length=MAX_MATCH_TEXT,
        help_text="one a line: a PDQ hash (64 hex digits), or md5:…, sha256:…, url:…, "
        "domain:…, text:…",
    )
    image = forms.FileField(required=False, help_text="a photo to hash with PDQ")


@login_required
@require_http_methods(["GET", "POST"])
@shows_domain_errors
def match_page(request: AuthenticatedRequest) -> HttpResponse:
    """Paste hashes or upload a photo: every visible bank's entries within its threshold,
    with their distances. A look-up, not a match from the platform: nothing is recorded."""
    require(is_internal(request.user), "partners match through the API")
    form = MatchForm(request.POST or None, request.FILES or None)
    rows: list[matching.QueryRow] = []
    if request.method == "POST" and form.is_valid():
        try:
            rows = matching.look_up(
                text=form.cleaned_data["hashes"],
                image=form.cleaned_data["image"],
                banks=selectors.banks_visible_to(request.user),
            )
        except InvalidInput as error:
            form.add_service_error(error)
    return render(request, "banks/match.html", {"form": form, "rows": rows})


@login_required
@require_http_methods(["GET", "POST"])
@shows_domain_errors
def bank_evidence(request: AuthenticatedRequest, evidence_id: int) -> HttpResponse:
    """ "Bank this": put an evidence item's hash into a bank the person may see."""
    item = access_evidence(actor=request.user, evidence_id=evidence_id)
    require(_may_curate(request.user), "your role cannot curate banks")
    # Crisis banks first, allow banks (known benign) last.
    banks = sorted(
        bankable_banks(request.user), key=lambda b: (b.is_allow_bank, b.crisis_id is None, b.name)
    )
    error = ""
    if request.method == "POST":
        chosen = selectors.access_bank(request.user, request.POST.get("bank", ""))
        try:
            entry = services.bank_evidence_item(
                bank=chosen, item=item, actor=request.user, note=request.POST.get("note", "")
            )
        except InvalidInput as refusal:
            error = refusal.message
        else:
            messages.success(request, f"{item.reference} is entry {entry.pk} of {chosen.name}.")
            return redirect(reverse("bank-detail", args=[chosen.name]) + f"#entry-{entry.pk}")
    return render(
        request,
        "banks/bank_evidence.html",
        {
            "item": item,
            "banks": banks,
            "banked_in": selectors.entries_holding(
                [item.pdq, item.sha256, item.md5], banks=[bank.pk for bank in banks]
            ),
            "error": error,
            "max_note": services.MAX_NOTE,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
@shows_domain_errors
def bank_cluster(request: AuthenticatedRequest, cluster_id: int) -> HttpResponse:
    """ "Bank this" on a cluster: its signals' media hashes (all, or those ticked) into
    a bank the person may see."""
    cluster = access_cluster(actor=request.user, cluster_id=cluster_id)
    require(_may_curate(request.user), "your role cannot curate banks")
    banks = cluster_banking.banks_for_cluster(request.user, cluster)
    error = ""
    if request.method == "POST":
        chosen = selectors.access_bank(request.user, request.POST.get("bank", ""))
        try:
            banked = cluster_banking.bank_cluster_media(
                bank=chosen,
                cluster=cluster,
                values=request.POST.getlist("hash"),
                actor=request.user,
                note=request.POST.get("note", ""),
            )
        except InvalidInput as refusal:
            error = refusal.message
        else:
            summary = f"{len(banked.added)} hash{'es' if len(banked.added) != 1 else ''} added"
            summary += f" to {chosen.name}" + (
                f", {banked.already} banked already" if banked.already else ""
            )
            if banked.skipped:
                summary += f"; {len(banked.skipped)} left out: {banked.skipped[0][1]}"
            messages.success(request, summary + ".")
            return redirect(reverse("bank-detail", args=[chosen.name]))
    hashes = cluster_banking.cluster_hashes(cluster)
    return render(
        request,
        "banks/bank_cluster.html",
        {
            "cluster": cluster,
            "hashes": hashes,
            "banks": banks,
            "banked_in": selectors.entries_holding(
                [h.value for h in hashes], banks=[bank.pk for bank in banks]
            ),
            "error": error,
            "max_note": cluster_banking.MAX_NOTE,
            "min_quality": services.MIN_PDQ_QUALITY,
        },
    )


def bankable_banks(user: User):
    """Banks an evidence item can go into: the user's visible photo and file-hash banks."""
    return selectors.banks_visible_to(user).filter(
        signal_type__in=[SignalType.PDQ, SignalType.SHA256, SignalType.MD5]
    )


def bank_this_link(*, item: EvidenceItem, viewer: User) -> ItemLink | None:
    """The evidence page's "Bank this" link, for those who may curate banks."""
    if not _may_curate(viewer) or not (item.pdq or item.sha256):
        return None
    return ItemLink(
        label="Bank this",
        url=reverse("bank-evidence", args=[item.pk]),
        hint="add its PDQ or SHA-256 to a hash bank, so copies are found",
    )
