from django.apps import AppConfig


class MarketsConfig(AppConfig):
    name = "watchfloor.markets"
    label = "markets"

    def ready(self) -> None:
        from watchfloor.catalog.reference import register_reference_data
        from watchfloor.markets.reference import apply_markets

        register_reference_data("markets", apply_markets)
