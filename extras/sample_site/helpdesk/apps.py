from django.apps import AppConfig


class HelpdeskConfig(AppConfig):
    name = "helpdesk"
    verbose_name = "Helpdesk (demo)"
    default_auto_field = "django.db.models.BigAutoField"
