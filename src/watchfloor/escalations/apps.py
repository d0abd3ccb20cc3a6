from django.apps import AppConfig


class EscalationsConfig(AppConfig):
    name = "watchfloor.escalations"
    label = "escalations"

    def ready(self) -> None:
        from watchfloor.catalog.reference import register_reference_data
        from watchfloor.escalations.reference import apply_escalation_types

        register_reference_data("escalations", apply_escalation_types)

        # "Have we seen this before?": escalations in the header's search (docs/search.md).
        from watchfloor.escalations.search import PROVIDER
        from watchfloor.web.search import register_search_provider

        register_search_provider(PROVIDER)
