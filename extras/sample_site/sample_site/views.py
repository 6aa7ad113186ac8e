"""The demo's front page."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse

from flowr.models import Flow, RuleSet


def _url(name: str, pk: int) -> str | None:
    try:
        return reverse(name, kwargs={"pk": pk})
    except NoReverseMatch:
        return None


def front(request: HttpRequest) -> HttpResponse:
    flows: list[dict[str, Any]] = [
        {
            "flow": flow,
            "admin": reverse("admin:flowr_flow_change", args=[flow.pk]),
            "editor": _url("flowr:flow_editor", flow.pk),
            "frozen": flow.in_use(),
        }
        for flow in Flow.objects.select_related("rule_set")
    ]
    rule_sets = [{"rule_set": rs, "graph": _url("flowr:rule_set_graph", rs.pk)} for rs in RuleSet.objects.all()]
    return render(request, "front.html", {"flows": flows, "rule_sets": rule_sets})
