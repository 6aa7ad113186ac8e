"""flowr's settings, read at access time (so ``override_settings`` works).

Set them in a ``FLOWR`` dict in your project's settings::

    FLOWR = {"RULE_MODULES": ["rules", "flow_rules"]}
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings as django_settings
from django.db.models import Model

DEFAULTS: dict[str, Any] = {
    # modules imported from every installed app at start-up so that their
    # Rule classes are registered (like admin.py for the admin)
    "RULE_MODULES": ["rules"],
    # DRF authentication classes (dotted paths) of the API; None: session
    # (with CSRF) + token (when rest_framework.authtoken is installed).
    # Basic authentication only when listed here.
    "API_AUTHENTICATION_CLASSES": None,
    # DRF permission classes (dotted paths) for the editing endpoints
    "API_EDIT_PERMISSION_CLASSES": None,
    # DRF permission classes (dotted paths) for reading/advancing States
    "API_STATE_PERMISSION_CLASSES": None,
    # models ("app_label.model") whose objects may be a State's subject in the
    # API (start, filter); naming one also needs its view permission. Empty: none.
    "SUBJECT_MODELS": [],
    # page size of the API's lists
    "API_PAGE_SIZE": 50,
    # list the internal tables (graphs, nodes, flow-node data) on the admin
    # index; they stay reachable by URL either way
    "ADMIN_SHOW_INTERNALS": False,
    # States may start only on flows whose status is "published"
    "ONLY_PUBLISHED_START": False,
    # publishing needs the flowr.publish_flow permission and a user who did
    # not make the flow's last edit
    "FOUR_EYES_PUBLISH": False,
    # dotted path of a callable (start, delay) -> due datetime that computes
    # every timer's due time (e.g. "flowr.timers.working_days"); None: start + delay
    "TIMER_CALENDAR": None,
}


class Settings:
    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"Unknown flowr setting {name!r}")
        return getattr(django_settings, "FLOWR", {}).get(name, DEFAULTS[name])


settings = Settings()


def subject_model_entries() -> list[tuple[str, type[Model] | None]]:
    """``FLOWR["SUBJECT_MODELS"]`` as ``("app_label.model", model)`` pairs.

    The label is lower-cased (as content types name models); the model is
    None when the entry is not ``"app_label.ModelName"`` of an installed
    model (system check flowr.E006 reports it).
    """
    found: list[tuple[str, type[Model] | None]] = []
    for entry in settings.SUBJECT_MODELS:
        model: type[Model] | None = None
        if isinstance(entry, str) and entry.count(".") == 1:
            try:
                model = apps.get_model(entry)
            except (LookupError, ValueError):
                model = None
        found.append((str(entry).lower(), model))
    return found


def subject_models() -> dict[str, type[Model]]:
    """The installed subject models, by lower-cased ``"app_label.model"``."""
    return {label: model for label, model in subject_model_entries() if model is not None}
