from django.apps import AppConfig


class PolicyConfig(AppConfig):
    name = "watchfloor.policy"
    label = "policy"

    def ready(self) -> None:
        from watchfloor.catalog.reference import register_reference_data
        from watchfloor.policy.reference import apply_policies

        register_reference_data("policy", apply_policies)
