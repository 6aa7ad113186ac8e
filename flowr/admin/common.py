"""Helpers shared by flowr's ModelAdmins: optional URLs and features, counts, downloads."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

from django.contrib import admin
from django.db.models import Count, IntegerField, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse

from flowr.models import Flow

CSS = {"all": ["flowr/admin/flowr-admin.css"]}


def reverse_or_none(name: str, pk: Any) -> str | None:
    """The URL of an optional page (editor, rule graph), None if not installed."""
    try:
        return reverse(name, kwargs={"pk": pk})
    except NoReverseMatch:
        return None


def export_module() -> ModuleType | None:
    """``flowr.export`` when this version of flowr ships it."""
    try:
        from flowr import export
    except ImportError:
        return None
    return export if hasattr(export, "export_flow") else None


def can_clone() -> bool:
    return callable(getattr(Flow, "clone", None))


def count_of(queryset: QuerySet[Any], column: str) -> Coalesce:
    """A correlated ``COUNT(*)`` subquery (no row multiplication on joins)."""
    counted = queryset.order_by().values(column).annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def admin_url(name: str, *args: Any) -> str:
    return reverse(f"admin:{name}", args=args)


def json_download(document: Any, filename: str) -> HttpResponse:
    response = HttpResponse(json.dumps(document, indent=2, default=str), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class ReadOnlyAdmin(admin.ModelAdmin):
    """Viewing only: these rows change through flows and States."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
