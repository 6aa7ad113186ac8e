"""Authentication of flowr's API, independent of the project's DRF settings.

The classes come from ``FLOWR["API_AUTHENTICATION_CLASSES"]`` (dotted paths or
classes, tried in order). The default, ``None``, is session authentication with
CSRF (:class:`CsrfSessionAuthentication`) and token authentication when
``rest_framework.authtoken`` is installed. HTTP basic authentication is used only
when the setting lists it: a browser replays cached basic credentials on any
request, cross-origin ones included, and basic authentication is not
CSRF-protected. ``REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]`` is not read,
since DRF's own default there includes basic authentication.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import apps
from django.conf import settings
from django.utils.module_loading import import_string
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, SessionAuthentication, TokenAuthentication
from rest_framework.request import Request

from flowr.conf import settings as flowr_settings


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


def authentication_classes() -> list[type[BaseAuthentication]]:
    """The API's authentication classes: the setting's, or session (CSRF) + token."""
    value: Sequence[str | type[BaseAuthentication]] | str | None = flowr_settings.API_AUTHENTICATION_CLASSES
    if value is None:
        return [CsrfSessionAuthentication, *([TokenAuthentication] if token_auth_available() else [])]
    if isinstance(value, (str, type)):
        value = [value]
    return [import_string(item) if isinstance(item, str) else item for item in value]


def authenticators() -> list[BaseAuthentication]:
    """Fresh authenticator instances for one request."""
    return [cls() for cls in authentication_classes()]


def authenticate_header(request: Request) -> str | None:
    """The ``WWW-Authenticate`` of a 401: the first scheme that names one (token by default).

    None when no configured class names one (session only): DRF then answers 403.
    """
    for authenticator in authenticators():
        header: str | None = authenticator.authenticate_header(request)
        if header:
            return header
    return None
