from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "watchfloor.core"
    label = "core"
