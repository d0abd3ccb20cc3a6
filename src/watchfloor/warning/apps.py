from django.apps import AppConfig

from watchfloor.core.lazy import imported_when_called

# Imported when first used: lxml and the parser load only when an alert arrives.
read_cap_file = imported_when_called("watchfloor.warning.reader.read_cap_file")
propose_from_alert_signals = imported_when_called(
    "watchfloor.warning.proposals.propose_from_alert_signals"
)
escalation_warning_panel = imported_when_called(
    "watchfloor.warning.selectors.escalation_warning_panel"
)
open_proposals = imported_when_called("watchfloor.warning.selectors.open_proposals")


def _looks_like_cap(head: bytes) -> bool:
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<") or head.startswith(
        (b"\xff\xfe", b"\xfe\xff")
    )


class WarningConfig(AppConfig):
    """Early warning from outside: official alerts (CAP) in, the escalations and crisis
    proposals they lead to."""

    name = "watchfloor.warning"
    label = "warning"
    verbose_name = "Early warning"

    def ready(self) -> None:
        from watchfloor.escalations.hooks import register_escalation_panel
        from watchfloor.signals.hooks import (
            DocumentReader,
            after_signals_stored,
            register_document_reader,
        )

        register_document_reader(
            DocumentReader(name="CAP", recognises=_looks_like_cap, read=read_cap_file)
        )
        after_signals_stored(propose_from_alert_signals)
        register_escalation_panel("warning_panel", escalation_warning_panel)

        from watchfloor.crises.hooks import register_crisis_list_panel

        register_crisis_list_panel("proposed_crises", open_proposals)
