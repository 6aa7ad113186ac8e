"""Flows on the host's own admin pages: :class:`FlowrSubjectAdminMixin`.

Mix it into the ModelAdmin of a model whose objects are States' subjects::

    @admin.register(Ticket)
    class TicketAdmin(FlowrSubjectAdminMixin, admin.ModelAdmin):
        list_display = ["id", "title", "flowr_state"]
        list_filter = [FlowrFlowFilter, FlowrRuleFilter]

The object's change page then lists its States: flow, current rule, the next
rules as buttons (refused ones disabled, with the reason), a note, and the
history; and a "Start on a flow" form.  The buttons post to URLs of the
mixin, which need the view permission on the object's model and flowr's
``add_state`` (start) or ``change_state`` (advance) permission, and redirect
back with a message.  Every refusal is a message; nothing is changed on GET.

The change list's ``flowr_state`` column and the two filters read the States
of the whole page in one query.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F, Model, Prefetch, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.loader import select_template
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from flowr import guards
from flowr import rules as rule_registry
from flowr.admin.common import CSS
from flowr.exceptions import FlowrError
from flowr.forms import SubjectAdvanceForm, SubjectStartForm, rule_display, subject_models_for
from flowr.models import Flow, FlowNodeData, State, StateHistory

if TYPE_CHECKING:
    from flowr.rules import Rule

ADVANCE_PERMISSION = "flowr.change_state"
START_PERMISSION = "flowr.add_state"


# -- the one seam to the State runtime ----------------------------------------------


@dataclass(frozen=True)
class _Option:
    """One child of a State's current node, and whether it may be taken now."""

    rule: type[Rule] | None
    node: FlowNodeData
    allowed: bool
    reason: str | None
    code: str | None


def _options(state: State, user: Any, children: list[FlowNodeData]) -> list[_Option]:
    """Every child of ``state``'s current node for ``user``, refused ones
    with the permission's or guard's reason (``State.transition_options``'s
    answer, from ``children`` read for all the page's States in one query)."""
    current = rule_registry.get_rule(state.current_node.rule_label)
    if current is None:
        return []
    pairs = [(rule, data) for data in children if (rule := rule_registry.get_rule(data.rule_label)) is not None]
    return [_Option(o.rule, o.node, o.allowed, o.reason, o.code) for o in guards.options(state, current, pairs, user)]


def _advance(state: State, rule: str | None, user: Any, note: str) -> State:
    """Move ``state`` on to ``rule`` as ``user``, with ``note`` on the history row."""
    return state.next_state(rule or None, actor=user, note=note)


def _children_of(states: Iterable[State]) -> dict[int, list[FlowNodeData]]:
    """The children of each State's current node (by Node id), one query."""
    node_ids = {state.current_node.node_id for state in states}
    found: dict[int, list[FlowNodeData]] = defaultdict(list)
    if not node_ids:
        return found
    rows = (
        FlowNodeData.objects.filter(node__in_edges__source_id__in=node_ids)
        .annotate(flowr_parent=F("node__in_edges__source_id"))
        .order_by("node_id")
    )
    for data in rows:
        found[data.flowr_parent].append(data)
    return found


# -- the Start-a-state page's subject search ---------------------------------------------


class _NoLimit:
    """Stands for the foreign key Django's autocomplete view expects: no ``limit_choices_to``."""

    @staticmethod
    def get_limit_choices_to() -> dict[str, Any]:
        return {}


def subject_search_admins(site: admin.AdminSite, user: Any) -> dict[str, admin.ModelAdmin]:
    """The subject models ``user`` may view whose ModelAdmin on ``site`` has
    ``search_fields`` (the ones Django's autocomplete can search), by label."""
    registry: dict[type[Model], admin.ModelAdmin] = site._registry
    return {
        label: registry[model]
        for label, model in subject_models_for(user).items()
        if model in registry and registry[model].search_fields
    }


class SubjectAutocompleteView(AutocompleteJsonView):
    """Django admin's autocomplete JSON over the subject model named by
    ``?subject_type=app_label.model``: the model's own admin searches (its
    ``search_fields``, ``get_search_results`` and view permission).  Needs
    flowr's ``add_state`` permission; any other model is refused (403)."""

    def process_request(self, request: HttpRequest) -> tuple[str, Any, Any, str]:
        if not request.user.has_perm(START_PERMISSION):
            raise PermissionDenied
        assert self.admin_site is not None
        model_admin = subject_search_admins(self.admin_site, request.user).get(request.GET.get("subject_type", ""))
        if model_admin is None:
            raise PermissionDenied
        pk = model_admin.model._meta.pk
        assert pk is not None
        return request.GET.get("term", ""), model_admin, _NoLimit(), pk.attname


# -- the change list -----------------------------------------------------------------------


def _subject_states(model: type[Model], pks: Iterable[Any]) -> dict[str, list[State]]:
    """The States of the objects ``pks`` of ``model``, by ``str(pk)`` (one query)."""
    keys = [str(pk) for pk in pks]
    found: dict[str, list[State]] = defaultdict(list)
    if not keys:
        return found
    content_type = ContentType.objects.get_for_model(model)
    states = (
        State.objects.filter(subject_content_type=content_type, subject_id__in=keys)
        .select_related("flow", "current_node")
        .order_by("created", "pk")
    )
    for state in states:
        found[state.subject_id].append(state)
    return found


def _subject_pks(model: type[Model], **filters: Any) -> list[Any]:
    """The pks (as the model's pk field reads them) of objects having a State that matches ``filters``."""
    content_type = ContentType.objects.get_for_model(model)
    ids = State.objects.filter(subject_content_type=content_type, **filters).values_list("subject_id", flat=True)
    field = model._meta.pk
    found = []
    for value in set(ids):
        try:
            found.append(field.to_python(value))
        except (ValidationError, ValueError, TypeError):  # not a pk of this model: matches nothing
            continue
    return found


class FlowrFlowFilter(admin.SimpleListFilter):
    """Filter a subject model's change list by the flow of its States."""

    title = gettext_lazy("flow")
    parameter_name = "flowr_flow"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        content_type = ContentType.objects.get_for_model(model_admin.model)
        flows = (
            State.objects.filter(subject_content_type=content_type)
            .order_by("flow__name", "flow_id")
            .values_list("flow_id", "flow__name", "flow__version")
            .distinct()
        )
        return [
            (str(pk), _("%(name)s (v%(version)s)") % {"name": name, "version": version}) for pk, name, version in flows
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        value = self.value()
        if not value:
            return queryset
        if not value.isdigit():
            return queryset.none()
        return queryset.filter(pk__in=_subject_pks(queryset.model, flow_id=int(value)))


class FlowrRuleFilter(admin.SimpleListFilter):
    """Filter a subject model's change list by the current rule of its States."""

    title = gettext_lazy("current rule")
    parameter_name = "flowr_rule"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        content_type = ContentType.objects.get_for_model(model_admin.model)
        labels = (
            State.objects.filter(subject_content_type=content_type)
            .order_by("current_node__rule_label")
            .values_list("current_node__rule_label", flat=True)
            .distinct()
        )
        return [(label, rule_display(label)) for label in labels]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        value = self.value()
        if not value:
            return queryset
        return queryset.filter(pk__in=_subject_pks(queryset.model, current_node__rule_label=value))


_CHANGELISTS: dict[type, type] = {}


def _changelist_with_states(base: type) -> type:
    """``base`` (a ChangeList class) that reads the page's States in one query."""
    if base not in _CHANGELISTS:

        def get_results(self: Any, request: HttpRequest) -> None:
            base.get_results(self, request)  # type: ignore[attr-defined]
            found = _subject_states(self.model, (obj.pk for obj in self.result_list))
            for obj in self.result_list:
                obj.flowr_states = found.get(str(obj.pk), [])

        _CHANGELISTS[base] = type(f"Flowr{base.__name__}", (base,), {"get_results": get_results})
    return _CHANGELISTS[base]


# -- the mixin ----------------------------------------------------------------------------


if TYPE_CHECKING:
    _AdminBase = admin.ModelAdmin
else:
    _AdminBase = object


class FlowrSubjectAdminMixin(_AdminBase):
    """Show and move an object's States on its own admin change page.

    Put it before ``admin.ModelAdmin`` in the bases.  Attributes:

    ``flowr_several_states``
        True (default): "Start on a flow" is offered even when the object
        already has States (an object may run in several flows); False: only
        when it has none, and a start is refused when it has one.
    ``flowr_history_limit``
        how many of each State's latest history rows the page shows (None: all).

    Override :meth:`get_flowr_flows` to offer only some flows.
    """

    flowr_several_states: bool = True
    flowr_history_limit: int | None = None
    flowr_section_template = "flowr/admin/subject_states.html"

    # -- hooks -----------------------------------------------------------
    def get_flowr_flows(self, request: HttpRequest, obj: Model) -> QuerySet[Flow]:
        """The flows offered by "Start on a flow" (default: all, by name)."""
        return Flow.objects.order_by("name", "version", "pk")

    # -- change list -----------------------------------------------------
    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type:
        return _changelist_with_states(super().get_changelist(request, **kwargs))

    @admin.display(description=gettext_lazy("state"))
    def flowr_state(self, obj: Model) -> str:
        """The current rule of each of the object's States ("—": none)."""
        states = getattr(obj, "flowr_states", None)
        if states is None:  # outside the change list: one query
            states = _subject_states(type(obj), [obj.pk]).get(str(obj.pk), [])
        return ", ".join(rule_display(s.current_node.rule_label) for s in states) or "—"

    # -- URLs --------------------------------------------------------------
    def _flowr_url_name(self, action: str) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_flowr_{action}"

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/flowr/advance/",
                wrap(self.flowr_advance_view),
                name=self._flowr_url_name("advance"),
            ),
            path("<path:object_id>/flowr/start/", wrap(self.flowr_start_view), name=self._flowr_url_name("start")),
            *super().get_urls(),
        ]

    def _flowr_change_url(self, obj: Model) -> str:
        return reverse(
            f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_change",
            args=[quote(obj.pk)],
        )

    def _flowr_subject(self, request: HttpRequest, object_id: str, permission: str) -> Model:
        """The object, if the user may view it and holds ``permission``."""
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404(_("No %(model)s %(id)r") % {"model": self.opts.verbose_name, "id": object_id})
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        if not request.user.has_perm(permission):
            raise PermissionDenied
        return obj  # type: ignore[no-any-return]

    # -- actions -----------------------------------------------------------
    def flowr_advance_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST: move one of the object's States on to the chosen rule."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        obj = self._flowr_subject(request, object_id, ADVANCE_PERMISSION)
        back = HttpResponseRedirect(self._flowr_change_url(obj))
        form = SubjectAdvanceForm(request.POST)
        if not form.is_valid():
            self.message_user(request, _("Nothing was done: %(errors)s") % {"errors": _errors(form)}, messages.ERROR)
            return back
        data = form.cleaned_data
        state = State.objects.for_subject(obj).filter(pk=data["state"]).select_related("flow", "current_node").first()
        if state is None:
            self.message_user(
                request,
                _("No state %(state)s for this %(model)s; nothing was done.")
                % {"state": data["state"], "model": self.opts.verbose_name},
                messages.ERROR,
            )
            return back
        if state.version != data["expected_version"]:
            self.message_user(
                request,
                _("State %(state)s moved meanwhile; nothing was done. Look again.") % {"state": state.pk},
                messages.ERROR,
            )
            return back
        was = rule_display(state.current_node.rule_label)
        try:
            _advance(state, data["rule"], request.user, data["note"])
        except FlowrError as exc:
            self.message_user(
                request,
                _("State %(state)s was not moved: %(reason)s") % {"state": state.pk, "reason": exc},
                messages.ERROR,
            )
        else:
            now = rule_display(state.current_node.rule_label)
            self.message_user(
                request,
                _("State %(state)s moved from %(was)s to %(now)s.") % {"state": state.pk, "was": was, "now": now},
                messages.SUCCESS,
            )
        return back

    def flowr_start_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST: start a State of the chosen flow with this object as its subject."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        obj = self._flowr_subject(request, object_id, START_PERMISSION)
        back = HttpResponseRedirect(self._flowr_change_url(obj))
        form = SubjectStartForm(request.POST, flows=self.get_flowr_flows(request, obj))
        if not form.is_valid():
            self.message_user(request, _("Nothing was started: %(errors)s") % {"errors": _errors(form)}, messages.ERROR)
            return back
        if not self.flowr_several_states and State.objects.for_subject(obj).exists():
            self.message_user(
                request,
                _("This %(model)s already has a state; nothing was started.") % {"model": self.opts.verbose_name},
                messages.ERROR,
            )
            return back
        flow = form.cleaned_data["flow"]
        try:
            state = State.start(flow, subject=obj, actor=request.user)
        except FlowrError as exc:
            self.message_user(request, _("Nothing was started: %(reason)s") % {"reason": exc}, messages.ERROR)
        else:
            at = rule_display(state.current_node.rule_label)
            self.message_user(
                request,
                _("Started state %(state)s on %(flow)s at %(rule)s.") % {"state": state.pk, "flow": flow, "rule": at},
                messages.SUCCESS,
            )
        return back

    # -- the change page ---------------------------------------------------
    def flowr_context(self, request: HttpRequest, obj: Model) -> dict[str, Any]:
        """What the States section shows (a constant number of queries)."""
        history = StateHistory.objects.order_by("seq")
        states = list(
            State.objects.for_subject(obj)
            .select_related("flow", "current_node")
            .prefetch_related(Prefetch("history_rows", queryset=history, to_attr="flowr_history"))
            .order_by("created", "pk")
        )
        may_advance = request.user.has_perm(ADVANCE_PERMISSION)
        may_start = request.user.has_perm(START_PERMISSION) and (self.flowr_several_states or not states)
        children = _children_of(states) if states else {}
        shown = []
        for state in states:
            cancelled = state.cancelled is not None  # takes no more transitions
            options = [] if cancelled else _options(state, request.user, children.get(state.current_node.node_id, []))
            rows = state.flowr_history
            if self.flowr_history_limit is not None:
                rows = rows[-self.flowr_history_limit :]
            shown.append(
                {
                    "state": state,
                    "current": rule_display(state.current_node.rule_label),
                    "cancelled": cancelled,
                    # the timer the last move set (cleared by the next move or a cancel); no rule: a reminder
                    "due": bool(state.due_at) and not cancelled,
                    "due_rule": rule_display(state.due_rule) if state.due_rule else None,
                    "options": [
                        {
                            "label": option.node.rule_label,
                            "name": rule_display(option.node.rule_label),
                            "allowed": option.allowed and may_advance,
                            "reason": option.reason
                            if not option.allowed
                            else (None if may_advance else _("You may not move States.")),
                        }
                        for option in options
                    ],
                    "history": rows,
                }
            )
        flows = list(self.get_flowr_flows(request, obj)) if may_start else []
        return {
            "flowr_states": shown,
            "flowr_may_advance": may_advance,
            "flowr_may_start": may_start,
            "flowr_flows": flows,
            "flowr_advance_url": reverse(
                f"{self.admin_site.name}:{self._flowr_url_name('advance')}", args=[quote(obj.pk)]
            ),
            "flowr_start_url": reverse(f"{self.admin_site.name}:{self._flowr_url_name('start')}", args=[quote(obj.pk)]),
            "flowr_section_template": self.flowr_section_template,
        }

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Model | None = None,
    ) -> HttpResponse:
        """The page the admin (or another customisation) renders, with the
        States section appended after its content."""
        response = super().render_change_form(request, context, add, change, form_url, obj)
        if obj is None or add or not isinstance(response, TemplateResponse):
            return response
        names = response.template_name
        base = select_template([names] if isinstance(names, str) else list(names or []))  # type: ignore[arg-type]
        response.template_name = "flowr/admin/subject_change_form.html"
        response.context_data = {
            **(response.context_data or {}),
            **self.flowr_context(request, obj),
            "flowr_base_template": base,
        }
        return response

    @property
    def media(self) -> Any:
        from django import forms

        return super().media + forms.Media(css={"all": list(CSS["all"])})


def _errors(form: Any) -> str:
    return "; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items())
