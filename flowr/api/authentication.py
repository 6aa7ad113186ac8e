"""Authentication of flowr's API, independent of the project's DRF settings.

Session (with CSRF), token (``rest_framework.authtoken``, when installed) and
HTTP basic authentication, in that order.
"""

from __future__ import annotations

from typing import Any, cast

from django.apps import apps
from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import (
    BaseAuthentication,
    BasicAuthentication,
    SessionAuthentication,
    TokenAuthentication,
)
from rest_framework.request import Request


class CsrfSessionAuthentication(SessionAuthentication):
    """Session authentication whose CSRF refusal has its own code, ``csrf_failed``."""

    def enforce_csrf(self, request: Request) -> None:
        try:
            super().enforce_csrf(request)
        except exceptions.PermissionDenied as exc:
            raise exceptions.PermissionDenied(str(exc.detail), code="csrf_failed") from exc


class CsrfSessionScheme(OpenApiAuthenticationExtension):
    """Describes :class:`CsrfSessionAuthentication` in the OpenAPI schema."""

    target_class = CsrfSessionAuthentication
    name = "cookieAuth"
    priority = 1

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME}


def token_auth_available() -> bool:
    """True when ``rest_framework.authtoken`` is installed (its model exists)."""
    return apps.is_installed("rest_framework.authtoken")


def authenticators() -> list[BaseAuthentication]:
    """Fresh authenticator instances for one request."""
    found: list[BaseAuthentication] = [CsrfSessionAuthentication()]
    if token_auth_available():
        found.append(TokenAuthentication())
    found.append(BasicAuthentication())
    return found


def authenticate_header(request: Request) -> str:
    """The ``WWW-Authenticate`` of a 401: token when available, else basic."""
    scheme = TokenAuthentication() if token_auth_available() else BasicAuthentication()
    # both always name a scheme; the stubs type them as the base method, which may not
    return cast(str, scheme.authenticate_header(request))
