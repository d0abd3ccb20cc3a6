"""Admin for notifications. Channels and quiet hours are edited here through the audited
services; the delivery record (engagements, notifications, attempts) is read-only and
as visible as its escalation."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from watchfloor.core.admin import ReadOnlyAdminMixin
from watchfloor.core.errors import InvalidInput, WatchfloorError
from watchfloor.core.lazy import imported_when_called
from watchfloor.notify.models import (
    Channel,
    DeliveryAttempt,
    Engagement,
    Notification,
    NotificationPreference,
)

# Imported when an admin page first uses them: every command imports the admin modules at
# start-up, and the services bring the notification policy's models.
rotate_channel_secret = imported_when_called("watchfloor.notify.channels.rotate_channel_secret")
save_channel = imported_when_called("watchfloor.notify.channels.save_channel")
send_test_message = imported_when_called("watchfloor.notify.channels.send_test_message")
set_quiet_hours = imported_when_called("watchfloor.notify.channels.set_quiet_hours")
validate_channel = imported_when_called("watchfloor.notify.channels.validate_channel")
validate_quiet_hours = imported_when_called("watchfloor.notify.channels.validate_quiet_hours")
notifications_visible_to = imported_when_called(
    "watchfloor.notify.selectors.notifications_visible_to"
)


class ChannelForm(forms.ModelForm):
    url = forms.URLField(
        required=False,
        max_length=1000,
        assume_scheme="https",
        help_text="webhooks only: where the JSON is POSTed",
    )

    class Meta:
        model = Channel
        fields = (
            "code",
            "name",
            "kind",
            "url",
            "email_address",
            "max_attempts",
            "is_active",
            "description",
        )

    def clean(self):
        cleaned = super().clean() or {}
        candidate = Channel(
            code=cleaned.get("code") or "",
            name=cleaned.get("name") or "",
            kind=cleaned.get("kind") or "",
            url=cleaned.get("url") or "",
            email_address=cleaned.get("email_address") or "",
        )
        try:
            validate_channel(candidate)
        except InvalidInput as error:
            field = error.field if error.field in self.fields else None
            raise ValidationError({field: error.message} if field else error.message) from error
        return cleaned


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    form = ChannelForm
    list_display = ("code", "name", "kind", "is_active", "max_attempts", "updated_at")
    list_filter = ("kind", "is_active")
    search_fields = ("code", "name")
    readonly_fields = ("secret", "created_at", "updated_at")
    actions = ("rotate_secret", "send_test")

    def get_fields(self, request, obj=None):
        fields = list(ChannelForm.Meta.fields)
        if obj is not None:
            fields += ["secret", "created_at", "updated_at"]
        return fields

    def save_model(self, request, obj, form, change):
        save_channel(channel=obj, actor=request.user, changed_fields=list(form.changed_data))

    def has_delete_permission(self, request, obj=None):
        return False  # switch a channel off instead: its deliveries refer to it

    @admin.action(description="Rotate the signing secret")
    def rotate_secret(self, request, queryset):
        for channel in queryset:
            try:
                rotate_channel_secret(channel=channel, actor=request.user)
            except WatchfloorError as error:
                self.message_user(request, f"{channel.code}: {error.message}", messages.ERROR)
            else:
                self.message_user(
                    request,
                    f"{channel.code}: new secret; give it to the receiver before the next "
                    "message, or it will reject them",
                    messages.WARNING,
                )

    @admin.action(description="Send a test message")
    def send_test(self, request, queryset):
        for channel in queryset:
            try:
                notification = send_test_message(channel=channel, actor=request.user)
            except WatchfloorError as error:
                self.message_user(request, f"{channel.code}: {error.message}", messages.ERROR)
            else:
                self.message_user(
                    request,
                    f"{channel.code}: test queued as notification {notification.pk}; see the "
                    "delivery log for how it went",
                )


class PreferenceForm(forms.ModelForm):
    class Meta:
        model = NotificationPreference
        fields = ("user", "quiet_hours_start", "quiet_hours_end")

    def clean(self):
        cleaned = super().clean() or {}
        try:
            validate_quiet_hours(cleaned.get("quiet_hours_start"), cleaned.get("quiet_hours_end"))
        except InvalidInput as error:
            field = error.field if error.field in self.fields else None
            raise ValidationError({field: error.message} if field else error.message) from error
        return cleaned


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    form = PreferenceForm
    list_display = ("user", "quiet_hours_start", "quiet_hours_end", "updated_at")
    search_fields = ("user__username",)
    list_select_related = ("user",)

    def get_readonly_fields(self, request, obj=None):
        return ("user",) if obj is not None else ()

    def save_model(self, request, obj, form, change):
        saved = set_quiet_hours(
            user=obj.user, start=obj.quiet_hours_start, end=obj.quiet_hours_end, actor=request.user
        )
        obj.pk, obj.updated_at = saved.pk, saved.updated_at

    def has_delete_permission(self, request, obj=None):
        return False  # clear both times instead, so the change is audited


@admin.register(Engagement)
class EngagementAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "escalation", "rule_code", "severity", "status", "started_at")
    list_filter = ("status", "rule_code")
    list_select_related = ("escalation",)

    def get_queryset(self, request):
        from watchfloor.escalations.selectors import escalations_visible_to

        return (
            super()
            .get_queryset(request)
            .filter(escalation__in=escalations_visible_to(request.user).values("pk"))
        )


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "escalation", "target", "kind", "status", "attempt_count", "created_at")
    list_filter = ("status", "kind")
    list_select_related = ("escalation",)
    exclude = ("ack_nonce_hash",)

    def get_queryset(self, request):
        visible = notifications_visible_to(request.user).values("pk")
        return super().get_queryset(request).filter(pk__in=visible)


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("notification", "number", "outcome", "status_code", "duration_ms", "started_at")
    list_filter = ("outcome",)

    def get_queryset(self, request):
        visible = notifications_visible_to(request.user).values("pk")
        return super().get_queryset(request).filter(notification__in=visible)
