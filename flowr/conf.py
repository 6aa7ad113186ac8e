"""flowr's settings, read at access time (so ``override_settings`` works).

Set them in a ``FLOWR`` dict in your project's settings::

    FLOWR = {"RULE_MODULES": ["rules", "flow_rules"]}
"""

from __future__ import annotations

from typing import Any

from django.conf import settings as django_settings

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
}


class Settings:
    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"Unknown flowr setting {name!r}")
        return getattr(django_settings, "FLOWR", {}).get(name, DEFAULTS[name])


settings = Settings()
