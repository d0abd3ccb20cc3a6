from django.apps import AppConfig


class PolicyConfig(AppConfig):
    name = "watchfloor.policy"
    label = "policy"
