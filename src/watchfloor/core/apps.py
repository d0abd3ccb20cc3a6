from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "watchfloor.core"
    label = "core"

    def ready(self) -> None:
        from django.core.checks import register

        from watchfloor.core.fulltext import check_text_search

        register(check_text_search)
