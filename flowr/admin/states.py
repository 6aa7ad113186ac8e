"""The State admin (start, advance, history inline) and the read-only StateHistory admin."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.html import format_html

from flowr.admin.common import CSS, ReadOnlyAdmin, admin_url
from flowr.exceptions import FlowrError
from flowr.forms import AdvanceForm, StartStateForm, node_label, rule_display
from flowr.models import State, StateHistory


class StateHistoryInline(admin.TabularInline):
    model = StateHistory
    fields = readonly_fields = (
        "seq",
        "kind",
        "from_rule_name",
        "to_rule_name",
        "actor_repr",
        "created",
        "note",
        "data",
    )
    ordering = ["seq"]
    extra = 0
    can_delete = False
    verbose_name_plural = "history"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def subject_display(state: State) -> str:
    if not state.subject_content_type_id:
        return "—"
    subject = state.subject
    if subject is None:
        return f"{state.subject_content_type} #{state.subject_id} (deleted)"
    return str(subject)


@admin.register(State)
class StateAdmin(admin.ModelAdmin):
    list_display = ["id", "flow", "current_rule", "subject_text", "updated", "advance"]
    list_display_links = ["id"]
    list_filter = ["flow", "flow__rule_set"]
    list_select_related = ["flow", "current_node", "subject_content_type"]
    fields = readonly_fields = ("flow", "current_rule", "subject_text", "version", "created", "updated", "advance")
    inlines = [StateHistoryInline]

    class Media:
        css = CSS

    def get_queryset(self, request: HttpRequest) -> QuerySet[State]:
        return super().get_queryset(request).prefetch_related("subject")

    @admin.display(description="current rule", ordering="current_node__rule_label")
    def current_rule(self, obj: State) -> str:
        return f"{rule_display(obj.current_node.rule_label)} (node #{obj.current_node.node_id})"

    @admin.display(description="subject")
    def subject_text(self, obj: State) -> str:
        return subject_display(obj)

    @admin.display(description="")
    def advance(self, obj: State) -> str:
        url = admin_url("flowr_state_advance", obj.pk)
        return format_html('<a class="button" href="{}">advance…</a>', url)

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.advance_view)
        return [path("<path:object_id>/advance/", view, name="flowr_state_advance"), *super().get_urls()]

    def _render(self, request: HttpRequest, template: str, title: str, **context: Any) -> TemplateResponse:
        base = {**self.admin_site.each_context(request), "opts": self.opts, "title": title}
        return TemplateResponse(request, template, {**base, **context})

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """ "Start a state": pick a flow; the State begins at its root."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = StartStateForm(request.POST or None, initial={"flow": request.GET.get("flow")})
        if request.method == "POST" and form.is_valid():
            flow = form.cleaned_data["flow"]
            try:
                state = State.start(flow, actor=request.user)
            except FlowrError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(
                    request, f"Started state {state.pk} on {flow} at {flow.root_data.rule_name}.", messages.SUCCESS
                )
                return HttpResponseRedirect(admin_url("flowr_state_change", state.pk))
        return self._render(request, "flowr/admin/start_state.html", "Start a state", form=form)

    def advance_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        state = self.get_object(request, object_id)
        if state is None:
            raise Http404(f"No state {object_id!r}")
        if not self.has_change_permission(request, state):
            raise PermissionDenied
        change_url = admin_url("flowr_state_change", state.pk)
        # every child, the ones this user may not take with the reason (the core's answer)
        options = state.transition_options(actor=request.user)
        at = state.current_node.node_id  # the Node id, as the graph API and the editor name it
        form = AdvanceForm(
            request.POST or None,
            options=options,
            initial={"expected_node": at, "expected_version": state.version},
        )
        if request.method == "POST":
            if not form.is_valid():
                self.message_user(request, "Choose one of the rules offered; nothing was done.", messages.ERROR)
            elif (form.cleaned_data["expected_node"], form.cleaned_data["expected_version"]) != (at, state.version):
                self.message_user(
                    request, f"State {state.pk} moved meanwhile; nothing was done. Look again.", messages.ERROR
                )
            else:
                was = rule_display(state.current_node.rule_label)
                try:
                    state.next_state(
                        form.cleaned_data["rule"] or None, actor=request.user, note=form.cleaned_data["note"]
                    )
                except FlowrError as exc:
                    self.message_user(request, str(exc), messages.ERROR)
                else:
                    now = rule_display(state.current_node.rule_label)
                    self.message_user(request, f"State {state.pk} moved from {was} to {now}.", messages.SUCCESS)
                    return HttpResponseRedirect(change_url)
            return HttpResponseRedirect(request.path)  # the refusal is a message on a fresh page
        return self._render(
            request,
            "flowr/admin/advance_state.html",
            f"Advance state {state.pk}",
            state=state,
            original=state,
            crumb=f"State {state.pk}",
            form=form,
            current=rule_display(state.current_node.rule_label),
            branches=len(options) > 1,
            options=[
                {"label": o.node.rule_label, "text": node_label(o.node), "allowed": o.allowed, "reason": o.reason}
                for o in options
            ],
            any_allowed=any(o.allowed for o in options),
            change_url=change_url,
        )


@admin.register(StateHistory)
class StateHistoryAdmin(ReadOnlyAdmin):
    list_display = ["state", "seq", "kind", "from_rule_name", "to_rule_name", "actor_repr", "created"]
    list_filter = ["kind"]
    list_select_related = ["state"]
    fields = readonly_fields = (
        "state",
        "seq",
        "kind",
        "from_rule_label",
        "to_rule_label",
        "actor_repr",
        "note",
        "data",
        "created",
    )
