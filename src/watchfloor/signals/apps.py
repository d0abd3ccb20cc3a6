from django.apps import AppConfig


class SignalsConfig(AppConfig):
    name = "watchfloor.signals"
    label = "signals"

    def ready(self) -> None:
        # Clusters in the header's search (docs/search.md), by id and by exact key;
        # imported when first searched (clustering brings numpy).
        from watchfloor.core.lazy import imported_when_called
        from watchfloor.web.search import SearchProvider, register_search_provider

        register_search_provider(
            SearchProvider(
                kind="clusters",
                label="Clusters",
                position=30,
                search=imported_when_called("watchfloor.signals.search.search_clusters"),
            )
        )
