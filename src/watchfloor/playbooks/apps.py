from django.apps import AppConfig


class PlaybooksConfig(AppConfig):
    name = "watchfloor.playbooks"
    label = "playbooks"
