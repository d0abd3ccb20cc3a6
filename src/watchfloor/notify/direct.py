"""One email to one person, outside any escalation policy: a crisis's sitrep reminder to
its commander, the evidence app's "X is stepping away for a break" to a team's lead.

It is an ordinary :class:`~watchfloor.notify.models.Notification`, delivered by the
notification worker with its attempts, retries and audit events, and queued only once the
caller's transaction commits. A person without an email address gets a failed
notification that says so (visible on the delivery pages) rather than nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from watchfloor.notify import conf
from watchfloor.notify.models import ChannelKind, Notification, NotificationStatus
from watchfloor.notify.tasks import deliver_after_commit

if TYPE_CHECKING:
    from watchfloor.people.models import User


def email_person(
    *,
    recipient: User,
    subject: str,
    body: str,
    event: str,
    reason: str,
    now: datetime,
    suppressed: bool = False,
) -> Notification:
    """Record the email and, when it can be sent, queue its delivery after commit (inside
    the caller's transaction). ``suppressed`` (a drill, or all delivery switched off):
    recorded and handed to the worker, which records it and sends nothing."""
    notification = Notification(
        target=f"user: {recipient.username}"[:200],
        reason=reason[:500],
        event=event[:32],
        kind=ChannelKind.EMAIL,
        recipient=recipient,
        address=recipient.email,
        subject=subject,
        body=body,
        suppress_delivery=suppressed or conf.suppress_all_delivery(),
        max_attempts=conf.max_attempts(),
        created_at=now,
        next_attempt_at=now,
    )
    failed_without_address(notification, recipient, now=now)
    notification.save()
    if notification.status == NotificationStatus.PENDING:
        deliver_after_commit(notification.pk)
    return notification


def failed_without_address(notification: Notification, recipient: User, *, now: datetime) -> bool:
    """Mark an email to a person without an address failed, saying why (unsaved)."""
    if recipient.email:
        return False
    notification.status = NotificationStatus.FAILED
    notification.last_error = f"{recipient.username} has no email address on their account"
    notification.finished_at = now
    notification.next_attempt_at = None
    return True
