from django.apps import AppConfig


class SignalsConfig(AppConfig):
    name = "watchfloor.signals"
    label = "signals"
