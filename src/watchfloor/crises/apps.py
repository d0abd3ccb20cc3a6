from django.apps import AppConfig


class CrisesConfig(AppConfig):
    name = "watchfloor.crises"
    label = "crises"

    def ready(self) -> None:
        # New signals are matched against the active crises' watchlists in the same
        # reactions pass as the surge checks (signals.backlog), off the intake's path.
        from watchfloor.crises.watchlists import flag_matching_signals
        from watchfloor.signals.backlog import after_signals_stored

        after_signals_stored(flag_matching_signals)
