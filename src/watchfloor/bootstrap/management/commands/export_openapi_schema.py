"""`watchfloor export_openapi_schema`: django-ninja's command, kept now that ninja is no
longer an installed app (see NINJA_DIR in the settings)."""

from ninja.management.commands.export_openapi_schema import Command

__all__ = ["Command"]
