from django.apps import AppConfig


class CoordinationConfig(AppConfig):
    name = "watchfloor.coordination"
    label = "coordination"
    verbose_name = "Partner coordination"
