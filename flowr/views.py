"""The visual editor's pages: flow editor, rule graph, edit screens.

They live in the admin, so they need a staff user, but being staff is never
enough: each page needs the model permission the admin would ask for the same
thing (``flowr.change_flow`` for the editor and a node's edit screen,
``flowr.view_ruleset`` for the rule graph), through the same answer as the API
(:func:`flowr.api.permissions.user_may`).

The pages are thin: they render the admin's base template with the graph as
JSON (through ``json_script``) and leave every edit to the REST API
(``flowr.api``), which the page's JavaScript calls with the CSRF token.  The
editor therefore needs the API (and Django REST framework) installed.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import NoReverseMatch, reverse
from django.utils.cache import patch_vary_headers
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from flowr import policy
from flowr import rules as rule_registry
from flowr.api.permissions import user_may
from flowr.conf import subject_models
from flowr.diff import diff_flows
from flowr.forms import node_text
from flowr.models import Flow, FlowNodeData, RuleSet
from flowr.readmodel import FlowGraph

View = Callable[..., HttpResponse]

# Sent by the editor's JavaScript to get an edit screen without the page frame.
FRAGMENT_HEADER = "X-Flowr-Fragment"

# A placeholder primary key: the page's JavaScript swaps it for a real id.
_PK_PLACEHOLDER = 987654321


def staff_with_permission(perm: str) -> Callable[[View], View]:
    """Anonymous users go to the admin login; others need to be active staff *and* have ``perm`` (else 403)."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path(), reverse("admin:login"))
            if not (user.is_active and user.is_staff):
                raise PermissionDenied(_("The flowr editor is for staff users only."))
            if not user_may(user, perm):
                raise PermissionDenied(_("You need the %(perm)s permission for this page.") % {"perm": perm})
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


# -- graph payloads ----------------------------------------------------------
def flow_graph(flow: Flow) -> dict[str, Any]:
    """The flow and its graph: the API's ``flows/<id>/graph/`` document.

    Built by the same code as the API's (two or three queries whatever the size), so
    the first render and every reload after an edit agree.
    """
    return FlowGraph.load(flow).as_json()


def rule_set_graph_elements(rule_set: RuleSet) -> dict[str, Any]:
    """The rule graph as cytoscape elements: rules reachable from the root.

    A child named by a label that does not resolve shows as a missing rule.
    """
    return policy.rule_graph_elements(rule_set.root_rule_label, ids="label")


# -- pages ------------------------------------------------------------------
def _url_template(name: str) -> str:
    return reverse(name, kwargs={"pk": _PK_PLACEHOLDER}).replace(str(_PK_PLACEHOLDER), "{id}")


def _admin_url(name: str, *args: Any) -> str | None:
    """An admin URL, or None while flowr's models are not registered."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def _view_permission(label: str) -> str:
    app_label, _dot, model = label.partition(".")
    return f"{app_label}.view_{model}"


@staff_with_permission("flowr.change_flow")
@require_http_methods(["GET", "HEAD"])
def flow_editor(request: HttpRequest, pk: int) -> HttpResponse:
    """The visual editor of one flow (read-only while States use it)."""
    flow = get_object_or_404(Flow.objects.select_related("rule_set", "state_graph"), pk=pk)
    payload = flow_graph(flow)
    config = {
        "flow_id": flow.pk,
        "api": reverse("flowr:api:root"),
        "editor_url": _url_template("flowr:flow_editor"),
        "edit_screen_url": _url_template("flowr:node_edit_screen"),
        "rule_set_url": reverse("flowr:rule_set_graph", kwargs={"pk": flow.rule_set_id}),
        # what the simulate mode offers as a subject: the API's rule (declared and viewable)
        "subject_types": [
            label for label in sorted(subject_models()) if user_may(request.user, _view_permission(label))
        ],
    }
    context = {
        **admin.site.each_context(request),
        "title": _("Edit flow: %(flow)s") % {"flow": flow},
        "flow": flow,
        "payload": payload,
        "config": config,
        "frozen": payload["flow"]["frozen"],
        "flows_url": _admin_url("admin:flowr_flow_changelist"),
        "flow_admin_url": _admin_url("admin:flowr_flow_change", flow.pk),
        "flow_migrate_url": reverse("flowr:flow_migrate", kwargs={"pk": flow.pk}),
    }
    return render(request, "flowr/flow_editor.html", context)


def _picked(choices: QuerySet[Flow], given: str) -> Flow | None:
    """The flow among ``choices`` whose id the query string gives (None for
    anything else: a page asks again rather than failing on a bad id)."""
    if given.isascii() and given.isdigit() and len(given) < 19:
        return choices.filter(pk=int(given)).first()
    return None


@staff_with_permission("flowr.view_flow")
@require_http_methods(["GET", "HEAD"])
def flow_compare(request: HttpRequest, pk: int) -> HttpResponse:
    """Two flows as one graph, what changed from this one to ``?other=`` marked (read-only)."""
    flow = get_object_or_404(Flow.objects.select_related("rule_set", "state_graph"), pk=pk)
    choices = Flow.objects.filter(rule_set_id=flow.rule_set_id).exclude(pk=flow.pk).order_by("name", "version")
    other = _picked(choices, request.GET.get("other", ""))
    context: dict[str, Any] = {
        **admin.site.each_context(request),
        "title": _("Compare flow: %(flow)s") % {"flow": flow},
        "flow": flow,
        "other": other,
        "choices": choices,
        "flows_url": _admin_url("admin:flowr_flow_changelist"),
        "flow_admin_url": _admin_url("admin:flowr_flow_change", flow.pk),
    }
    if other is not None:
        context["payload"] = {"a": flow_graph(flow), "b": flow_graph(other), "diff": diff_flows(flow, other)}
    return render(request, "flowr/flow_compare.html", context)


def _node_names(flow: Flow) -> dict[int, str]:
    rows = FlowNodeData.objects.filter(node__graph_id=flow.state_graph_id).values_list("node_id", "rule_label")
    return {node: node_text(node, label) for node, label in rows}


@staff_with_permission("flowr.change_flow")
@require_http_methods(["GET", "HEAD"])
def flow_migrate(request: HttpRequest, pk: int) -> HttpResponse:
    """Move this flow's running States to ``?target=``: the page asks the API
    (``POST flows/<id>/migrate/``) for the dry run and the move."""
    if not user_may(request.user, "flowr.change_state"):
        raise PermissionDenied(_("You need the %(perm)s permission for this page.") % {"perm": "flowr.change_state"})
    flow = get_object_or_404(Flow.objects.select_related("rule_set"), pk=pk)
    choices = Flow.objects.filter(rule_set_id=flow.rule_set_id).exclude(pk=flow.pk).order_by("-version", "pk")
    target = _picked(choices, request.GET.get("target", ""))
    context: dict[str, Any] = {
        **admin.site.each_context(request),
        "title": _("Move running states of %(flow)s") % {"flow": flow},
        "flow": flow,
        "target": target,
        "choices": choices,
        "flows_url": _admin_url("admin:flowr_flow_changelist"),
        "flow_admin_url": _admin_url("admin:flowr_flow_change", flow.pk),
    }
    if target is not None:
        context["payload"] = {
            "api": reverse("flowr:api:root"),
            "flow": flow.pk,
            "target": target.pk,
            "source_nodes": _node_names(flow),
            "target_nodes": _node_names(target),
            "target_url": reverse("flowr:flow_editor", kwargs={"pk": target.pk}),
        }
    return render(request, "flowr/flow_migrate.html", context)


@staff_with_permission("flowr.view_ruleset")
@require_http_methods(["GET", "HEAD"])
def rule_set_graph(request: HttpRequest, pk: int) -> HttpResponse:
    """The graph of a rule set's rules (which rule may follow which)."""
    rule_set = get_object_or_404(RuleSet, pk=pk)
    context = {
        **admin.site.each_context(request),
        "title": _("Rules of %(rule_set)s") % {"rule_set": rule_set},
        "rule_set": rule_set,
        "elements": rule_set_graph_elements(rule_set),
        "rule_sets_url": _admin_url("admin:flowr_ruleset_changelist"),
        "rule_set_admin_url": _admin_url("admin:flowr_ruleset_change", rule_set.pk),
    }
    return render(request, "flowr/rule_set_graph.html", context)


@staff_with_permission("flowr.change_flow")
@require_http_methods(["GET", "HEAD", "POST"])
def node_edit_screen(request: HttpRequest, pk: int) -> HttpResponse:
    """A node's custom edit screen: the HTML its rule's ``edit_screen`` makes.

    That HTML comes from code (the rule class), not from the database, so it
    is trusted.  The rule receives the request; a POST (CSRF-checked by the
    middleware) is the rule's to handle.  The editor asks for the bare
    fragment (header ``X-Flowr-Fragment``); opened directly, the screen comes
    inside the admin's frame.
    """
    data = get_object_or_404(FlowNodeData.objects.select_related("node"), node_id=pk)
    rule = rule_registry.get_rule(data.rule_label)
    if rule is None:
        raise Http404(_("Node %(node)s: rule %(label)r is missing") % {"node": pk, "label": data.rule_label})
    if not rule.has_edit_screen:
        raise Http404(_("Rule %(rule)s has no edit screen") % {"rule": rule.verbose_name})
    context = {"rule": rule, "node": data, "html": mark_safe(rule.edit_screen(request, data))}
    if request.headers.get(FRAGMENT_HEADER):
        response = render(request, "flowr/node_edit_screen.html", context)
    else:  # opened as a page (e.g. from the admin): the admin's frame around it
        flow = data.flow
        context.update(
            admin.site.each_context(request),
            title=_("%(rule)s #%(node)s: edit screen") % {"rule": rule.verbose_name, "node": data.node_id},
            flow=flow,
            editor_url=reverse("flowr:flow_editor", kwargs={"pk": flow.pk}),
            flows_url=_admin_url("admin:flowr_flow_changelist"),
        )
        response = render(request, "flowr/node_edit_screen_page.html", context)
    patch_vary_headers(response, [FRAGMENT_HEADER])
    return response
