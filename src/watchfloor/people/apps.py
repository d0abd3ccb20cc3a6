from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "watchfloor.people"
    label = "people"
