from __future__ import annotations

from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext_lazy


class FlowrConfig(AppConfig):
    name = "flowr"
    verbose_name = gettext_lazy("Flowr state machines")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from flowr import checks  # noqa: F401  (registers the system checks)
        from flowr.conf import settings
        from flowr.db.pgfunctions import forget_functions

        connection_created.connect(forget_functions, dispatch_uid="flowr.forget_functions")

        # Register the Rule classes of every installed app: the modules named
        # in FLOWR["RULE_MODULES"] are imported, never modules named by data.
        autodiscover_modules(*settings.RULE_MODULES)
