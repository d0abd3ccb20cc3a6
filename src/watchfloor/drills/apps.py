from django.apps import AppConfig


class DrillsConfig(AppConfig):
    """Drills sit above crises: they play scenarios as drill crises through the crises
    services. Crises never imports drills; what crises shows of a drill (the links of a
    drill crisis, the drills page, the drill events on its timeline) comes through
    ``crises.hooks``, filled here."""

    name = "watchfloor.drills"
    label = "drills"

    def ready(self) -> None:
        from django.urls import reverse

        from watchfloor.crises import hooks
        from watchfloor.crises.models import Crisis
        from watchfloor.drills.describe import DESCRIBERS
        from watchfloor.drills.models import DrillRun

        def drill_pages_of(crisis: Crisis) -> list[hooks.PageLink]:
            run_id = DrillRun.objects.filter(crisis=crisis).values_list("pk", flat=True).first()
            if run_id is None:
                return []
            return [
                hooks.PageLink("Drill clock and events", reverse("drill-detail", args=[run_id])),
                hooks.PageLink("score", reverse("drill-score", args=[run_id])),
            ]

        hooks.register_drill_pages(
            hooks.DrillPages(
                index=lambda: hooks.PageLink("Drills", reverse("drills")),
                of_crisis=drill_pages_of,
            )
        )
        for action, describe in DESCRIBERS.items():
            hooks.register_event_describer(action, describe)
