"""A receiver's answer moves out of the error that leads read, into an excerpt that only
administrators see. Attempts recorded before carry the answer in ``error``
("HTTP 500: <answer>"): it is moved across, and the notifications' last error keeps the
status alone."""

import re

from django.db import migrations, models

ERROR_WITH_ANSWER = re.compile(r"^(HTTP \d{3}): (.*)$", re.DOTALL)
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]+")


def _excerpt(answer: str) -> str:
    text = " ".join(CONTROL.sub(" ", answer).split())
    return text if len(text) <= 200 else text[:199] + "…"


def separate_answers(apps, schema_editor):
    DeliveryAttempt = apps.get_model("notify", "DeliveryAttempt")
    Notification = apps.get_model("notify", "Notification")
    for attempt in DeliveryAttempt.objects.filter(error__regex=r"^HTTP [0-9]{3}: "):
        match = ERROR_WITH_ANSWER.match(attempt.error)
        if match:
            attempt.error, attempt.response_excerpt = match[1], _excerpt(match[2])
            attempt.save(update_fields=["error", "response_excerpt"])
    for notification in Notification.objects.filter(last_error__regex=r"^HTTP [0-9]{3}: "):
        match = ERROR_WITH_ANSWER.match(notification.last_error)
        if match:
            notification.last_error = match[1]
            notification.save(update_fields=["last_error"])


class Migration(migrations.Migration):
    dependencies = [
        ("notify", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="deliveryattempt",
            name="response_excerpt",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.RunPython(separate_answers, migrations.RunPython.noop),
    ]
