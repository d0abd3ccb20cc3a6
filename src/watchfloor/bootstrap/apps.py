from django.apps import AppConfig


class BootstrapConfig(AppConfig):
    """The top floor: wires the domain apps together (demo data, serving, the worker and
    its scheduler). Nothing imports it."""

    name = "watchfloor.bootstrap"
    label = "bootstrap"
