from __future__ import annotations

from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class FlowrConfig(AppConfig):
    name = "flowr"
    verbose_name = "Flowr state machines"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from flowr import checks  # noqa: F401  (registers the system checks)
        from flowr.conf import settings

        # Register the Rule classes of every installed app: the modules named
        # in FLOWR["RULE_MODULES"] are imported, never modules named by data.
        autodiscover_modules(*settings.RULE_MODULES)
