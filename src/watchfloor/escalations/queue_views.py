"""The triage queue pages: the queue, its "n new since you loaded" fragment, and its CSV
export. Each reads through the queue selectors, which show only what the viewer may see."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from watchfloor.catalog.selectors import active_catalog_version, rubric_for
from watchfloor.core import clock
from watchfloor.core.spreadsheet import csv_lines
from watchfloor.escalations import queue_glance, selectors, services
from watchfloor.escalations.hooks import queue_banners
from watchfloor.people.http import AuthenticatedRequest
from watchfloor.web.pagination import CappedPaginator
from watchfloor.web.views import shows_domain_errors

from .queue_forms import QueueFilterForm, QueueRecheckForm
from .queue_rows import queue_rows

QUEUE_PAGE_SIZE = 50


@login_required
@require_GET
@shows_domain_errors
def queue(request: AuthenticatedRequest) -> HttpResponse:
    rubric = rubric_for(active_catalog_version())
    form = QueueFilterForm(request.GET, rubric=rubric)
    filters = form.filters()
    # Counted first: how long the queue is decides how its page is best read.
    counted = selectors.triage_queue_count(user=request.user, filters=filters)
    escalations = selectors.triage_queue_page(user=request.user, filters=filters, walk=counted.walk)
    paginator = CappedPaginator(
        escalations, QUEUE_PAGE_SIZE, counted=lambda: (counted.total, counted.is_capped)
    )
    page = paginator.get_page(request.GET.get("page"))
    now = clock.now()
    context = {
        "form": form,
        "sort": filters.sort,
        "page": page,
        "rows": queue_rows(page.object_list, now=now),
        "glance": queue_glance.queue_glance(user=request.user, now=now),
        "high_water_mark": queue_glance.queue_high_water_mark(user=request.user),
    }
    context.update(queue_banners(viewer=request.user, now=now))
    return render(request, "escalations/queue.html", context)


@login_required
@require_GET
@never_cache
def queue_new(request: AuthenticatedRequest) -> HttpResponse:
    """The queue page's "n new since you loaded": a fragment it polls, counting what was
    filed after the page's mark (``since``) with the page's own filters."""
    try:
        mark = max(0, int(request.GET.get("since", "")))
    except ValueError:
        return HttpResponse("since: give the page's mark, a whole number", status=400)
    filters = QueueRecheckForm(request.GET).filters()
    figure = queue_glance.new_since(user=request.user, filters=filters, mark=mark)
    return render(request, "escalations/_queue_new.html", {"new": figure})


@login_required
@require_GET
@shows_domain_errors
def queue_export(request: AuthenticatedRequest) -> StreamingHttpResponse:
    """The filtered queue as CSV: the same rows the viewer may see, no more."""
    rubric = rubric_for(active_catalog_version())
    form = QueueFilterForm(request.GET, rubric=rubric)
    filters = form.filters()
    row_count = selectors.triage_queue(user=request.user, filters=filters).count()
    services.record_queue_export(
        actor=request.user,
        filters={k: v for k, v in request.GET.items() if k != "page"},
        row_count=row_count,
    )
    lines = csv_lines(
        selectors.EXPORT_COLUMNS, selectors.queue_export_rows(user=request.user, filters=filters)
    )
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    stamp = clock.now().strftime("%Y%m%dT%H%MZ")
    response["Content-Disposition"] = f'attachment; filename="watchfloor-queue-{stamp}.csv"'
    return response
