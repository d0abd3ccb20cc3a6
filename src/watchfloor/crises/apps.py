from django.apps import AppConfig


class CrisesConfig(AppConfig):
    name = "watchfloor.crises"
    label = "crises"
