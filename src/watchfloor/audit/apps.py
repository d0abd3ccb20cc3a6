from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "watchfloor.audit"
    label = "audit"
