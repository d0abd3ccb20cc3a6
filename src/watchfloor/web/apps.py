from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "watchfloor.web"
    label = "web"
