"""Admin for banks: enforcement connectors are edited here through the audited service;
requests (with their items and attempts), matches, rule firings, exchanges and the
opinions sent to them are a read-only record (exchanges are added with
`watchfloor banks add-exchange`)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from watchfloor.banks.models import (
    EnforcementAttempt,
    EnforcementConnector,
    EnforcementItem,
    EnforcementRequest,
    Exchange,
    ExchangeFeedback,
    Match,
    RuleFiring,
)
from watchfloor.core.admin import ReadOnlyAdminMixin
from watchfloor.core.errors import InvalidInput
from watchfloor.core.lazy import imported_when_called

# Imported when an admin page first uses them: every command imports the admin modules at
# start-up, and the actioner brings notify's senders.
check_connector_url = imported_when_called("watchfloor.banks.actioner.check_connector_url")
save_connector = imported_when_called("watchfloor.banks.actioner.save_connector")


class ConnectorForm(forms.ModelForm):
    url = forms.URLField(max_length=2000, assume_scheme="https")

    class Meta:
        model = EnforcementConnector
        fields = ("code", "name", "url", "max_attempts", "is_active", "sends_final_decisions")
        help_texts = {
            "sends_final_decisions": (
                "Send each escalation decision through this connector as soon as it is "
                "final (only decisions made final from now on)."
            )
        }

    def clean_url(self):
        url = self.cleaned_data.get("url") or ""
        try:
            return check_connector_url(url)
        except InvalidInput as error:
            raise ValidationError(error.message) from error


@admin.register(EnforcementConnector)
class EnforcementConnectorAdmin(admin.ModelAdmin):
    form = ConnectorForm
    list_display = ("code", "name", "url", "is_active", "sends_final_decisions", "max_attempts")
    readonly_fields = ("secret", "created_at", "sends_final_decisions_since")

    def save_model(self, request, obj, form, change):
        save_connector(connector=obj, actor=request.user)

    def has_delete_permission(self, request, obj=None):
        return False  # switch a connector off instead: its requests refer to it


class ItemInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = EnforcementItem
    fields = ("reference", "status", "detail")
    extra = 0
    max_num = 0
    show_change_link = False


class AttemptInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = EnforcementAttempt
    fields = ("number", "started_at", "outcome", "status_code", "error", "next_retry_at")
    extra = 0
    max_num = 0


@admin.register(EnforcementRequest)
class EnforcementRequestAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "connector", "action", "status", "item_count", "requested_at")
    list_filter = ("status", "connector")
    inlines = (AttemptInline, ItemInline)


@admin.register(Match)
class MatchAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "bank", "entry_id", "distance", "market", "channel", "matched_at")
    list_filter = ("channel", "bank")
    list_select_related = ("bank",)


@admin.register(RuleFiring)
class RuleFiringAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "rule_code", "mode", "action", "outcome", "needs_review", "fired_at")
    list_filter = ("mode", "outcome", "needs_review", "review_outcome")


@admin.register(Exchange)
class ExchangeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("name", "kind", "bank", "is_enabled", "last_fetched_at", "last_error")
    list_filter = ("kind", "is_enabled")


@admin.register(ExchangeFeedback)
class ExchangeFeedbackAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("exchange", "entry", "opinion", "state", "recorded_at", "sent_at")
    list_filter = ("state", "opinion")
