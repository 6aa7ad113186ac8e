"""Who may do what through the API.

Editing (rules, rule sets, flows, nodes): staff, or the flowr model
permission the action needs (``flowr.view_flow``, ``flowr.add_flow``,
``flowr.change_flow``, ``flowr.delete_flow``, likewise for ``ruleset``).
States: the state permissions only (``flowr.view_state`` to read,
``flowr.add_state`` to start, ``flowr.change_state`` to advance); being
staff is not enough, since running machines is not editing them.

A project replaces either default by naming its own DRF permission classes
in ``FLOWR["API_EDIT_PERMISSION_CLASSES"]`` / ``FLOWR["API_STATE_PERMISSION_CLASSES"]``
(dotted paths or classes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from django.utils.module_loading import import_string
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from flowr.conf import settings


class PermissionView(Protocol):
    """A view that says which model permissions its current action needs."""

    def required_permissions(self, request: Request) -> list[str]: ...


def _has(user: Any, perm: str) -> bool:
    # As in the admin, the "change" permission implies "view".
    if user.has_perm(perm):
        return True
    app_label, _, codename = perm.partition(".")
    if codename.startswith("view_"):
        return bool(user.has_perm(f"{app_label}.change_{codename[5:]}"))
    return False


def has_model_permissions(request: Request, view: PermissionView) -> bool:
    return all(_has(request.user, perm) for perm in view.required_permissions(request))


class FlowrEditPermission(BasePermission):
    """Staff, or the flowr model permissions of the action."""

    message = "You need to be staff or have the flowr permissions for this action."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        return bool(user.is_staff) or has_model_permissions(request, view)


class FlowrStatePermission(BasePermission):
    """The flowr state permissions of the action (view/add/change state)."""

    message = "You need the flowr state permissions for this action."

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
