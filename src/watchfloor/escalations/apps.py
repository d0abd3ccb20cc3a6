from django.apps import AppConfig


class EscalationsConfig(AppConfig):
    name = "watchfloor.escalations"
    label = "escalations"
