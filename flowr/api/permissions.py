"""Who may do what through the API.

Django's model permissions, asked exactly as the admin asks them: the flowr
model permission the action needs (``flowr.view_flow`` to read,
``flowr.add_flow``, ``flowr.change_flow``, ``flowr.delete_flow`` to edit,
likewise for ``ruleset``; ``flowr.view_state`` to read States,
``flowr.add_state`` to start, ``flowr.change_state`` to advance). As in the
admin, "change" implies "view" and a superuser has every permission. Being
staff is never enough: a staff user without the permission gets the admin's
answer, 403. The editor's pages (flowr/views.py) ask :func:`user_may` too.

A project replaces either default by naming its own DRF permission classes
in ``FLOWR["API_EDIT_PERMISSION_CLASSES"]`` / ``FLOWR["API_STATE_PERMISSION_CLASSES"]``
(dotted paths or classes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from flowr.conf import settings


class PermissionView(Protocol):
    """A view that says which model permissions its current action needs."""

    def required_permissions(self, request: Request) -> list[str]: ...


def user_may(user: Any, perm: str) -> bool:
    """Whether ``user`` has the model permission ``perm`` (``app_label.codename``).

    The admin's answer: active users only, a superuser has every permission,
    and the "change" permission implies "view".
    """
    if not (user and user.is_authenticated and user.is_active):
        return False
    if user.has_perm(perm):
        return True
    app_label, _, codename = perm.partition(".")
    if codename.startswith("view_"):
        return bool(user.has_perm(f"{app_label}.change_{codename[5:]}"))
    return False


def has_model_permissions(request: Request, view: PermissionView) -> bool:
    return all(user_may(request.user, perm) for perm in view.required_permissions(request))


class FlowrEditPermission(BasePermission):
    """The flowr model permissions of the action (flow, rule set); staff alone is not enough."""

    message = gettext_lazy("You need the flowr permissions for this action.")

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        return has_model_permissions(request, view)


class FlowrStatePermission(BasePermission):
    """The flowr state permissions of the action (view/add/change state)."""

    message = gettext_lazy("You need the flowr state permissions for this action.")

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        return has_model_permissions(request, view)


PermissionClasses = list[type[BasePermission]]


def resolve_classes(
    value: Sequence[str | type[BasePermission]] | str | None, default: PermissionClasses
) -> PermissionClasses:
    """Permission classes from a setting (dotted paths or classes), or the default."""
    if value is None:
        return list(default)
    if isinstance(value, (str, type)):
        value = [value]
    return [import_string(item) if isinstance(item, str) else item for item in value]


def edit_permission_classes() -> PermissionClasses:
    return resolve_classes(settings.API_EDIT_PERMISSION_CLASSES, [FlowrEditPermission])


def state_permission_classes() -> PermissionClasses:
    return resolve_classes(settings.API_STATE_PERMISSION_CLASSES, [FlowrStatePermission])
