from django.apps import AppConfig


class MarketsConfig(AppConfig):
    name = "watchfloor.markets"
    label = "markets"
