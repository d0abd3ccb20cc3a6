from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "watchfloor.catalog"
    label = "catalog"
