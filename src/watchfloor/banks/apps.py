from django.apps import AppConfig

from watchfloor.core.lazy import imported_when_called

# The evidence page's "Bank this" link, imported when a page first asks for it: the banks
# views bring the hashers (Pillow, numpy, PDQ), which start-up should not load.
bank_this_link = imported_when_called("watchfloor.banks.views.bank_this_link")


class BanksConfig(AppConfig):
    """Hash banks, the exact matcher, exchanges, action rules and enforcement connectors."""

    name = "watchfloor.banks"
    label = "banks"

    def ready(self) -> None:
        from watchfloor.banks import checks  # noqa: F401 (registers the deploy checks)
        from watchfloor.banks.panel import enforcement_panel
        from watchfloor.escalations.hooks import (
            listen_to_final_decisions,
            register_escalation_panel,
        )
        from watchfloor.evidence.hooks import register_item_link

        register_escalation_panel("enforcement_panel", enforcement_panel)
        # "Bank this" on a cluster's media, and the war room's matches against the
        # crisis's banks.
        from watchfloor.crises.hooks import register_war_room_panel
        from watchfloor.signals.hooks import register_cluster_panel

        register_cluster_panel(
            "cluster_bank_this",
            imported_when_called("watchfloor.banks.cluster_banking.cluster_bank_link"),
        )
        register_war_room_panel(
            "crisis_bank_matches",
            imported_when_called("watchfloor.banks.cluster_banking.crisis_matches"),
        )
        # Final decisions go out through the connectors that send them (the actioner
        # brings notify's senders: imported on the first decision).
        listen_to_final_decisions(
            "banks_enforcement",
            imported_when_called("watchfloor.banks.decision_sending.on_decision_final"),
        )
        register_item_link("bank_this", bank_this_link)

        # Bank entries in the header's search (docs/search.md), by hash.
        from watchfloor.web.search import SearchProvider, register_search_provider

        register_search_provider(
            SearchProvider(
                kind="bank_entries",
                label="Bank entries",
                position=50,
                search=imported_when_called("watchfloor.banks.search.search_bank_entries"),
            )
        )
