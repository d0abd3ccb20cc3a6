from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "watchfloor.people"
    label = "people"

    def ready(self) -> None:
        from watchfloor.catalog.reference import register_reference_data
        from watchfloor.people.reference import apply_teams

        register_reference_data("people", apply_teams)
