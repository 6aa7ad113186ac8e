"""``/states/``: running instances of flows: start, read, advance (one or many), jump, cancel, history."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response

from flowr import export, readmodel
from flowr.api import params as query
from flowr.api.openapi import DIAGRAM_RESPONSES
from flowr.api.serializers import (
    AdvanceManyResultSerializer,
    AdvanceManySerializer,
    AdvanceSerializer,
    CancelSerializer,
    JumpSerializer,
    MoveResultSerializer,
    StateCreateSerializer,
    StateDetailSerializer,
    StateHistorySerializer,
    StateSerializer,
    subject_content_type,
)
from flowr.api.views.base import DiagramMixin, FlowrViewSet, document
from flowr.api.views.rule_sets import FORMAT_PARAMETER
from flowr.exceptions import ConcurrentTransition, NodeNotInFlow
from flowr.models import Flow, Node, State, StateHistory
from flowr.models.moves import CANCEL_PERMISSION, JUMP_PERMISSION

VIEW, ADD, CHANGE = "flowr.view_state", "flowr.add_state", "flowr.change_state"

FILTERS = [
    OpenApiParameter("flow", int, description="Only States of this flow (id)."),
    OpenApiParameter("rule", str, description="Only States whose current node has this rule (label)."),
    OpenApiParameter("node", int, description="Only States standing on this node (Node id)."),
    OpenApiParameter("subject_type", str, description='Only States of subjects of this model ("app_label.model").'),
    OpenApiParameter(
        "subject_id", str, description="Only States of subjects with this id (of any type, or of subject_type)."
    ),
    OpenApiParameter(
        "overdue", bool, description="true: only running States whose timer is due; false: only the others."
    ),
]


class StateViewSet(DiagramMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, FlowrViewSet):
    """States: a flow's running instances, optionally tied to a subject object."""

    permission_kind = "state"
    serializer_class = StateDetailSerializer
    action_permissions = {
        "list": [VIEW],
        "retrieve": [VIEW],
        "history": [VIEW],
        "diagram": [VIEW],
        "create": [ADD],
        "advance": [CHANGE],
        "advance_many": [CHANGE],
        "jump": [JUMP_PERMISSION],
        "cancel": [CANCEL_PERMISSION],
    }
    fallback_permissions = [CHANGE]

    def get_queryset(self) -> QuerySet[State]:
        states: QuerySet[State] = State.objects.select_related("flow", "current_node", "subject_content_type")
        if self.action == "list":
            states = self.filter(states)
        return states

    def filter(self, states: QuerySet[State]) -> QuerySet[State]:
        params = self.request.query_params
        flow = query.integer(params, "flow")
        if flow is not None:
            states = states.filter(flow_id=flow)
        node = query.integer(params, "node")
        if node is not None:
            states = states.filter(current_node__node_id=node)
        rule = query.text(params, "rule")
        if rule is not None:
            states = states.filter(current_node__rule_label=rule)
        kind, subject = query.text(params, "subject_type"), query.text(params, "subject_id")
        if kind is not None:
            states = states.filter(subject_content_type=subject_content_type(kind, self.request.user))
        if subject is not None:
            states = states.filter(subject_id=subject)
        overdue = query.boolean(params, "overdue")
        if overdue is not None:
            states = readmodel.overdue_states(states, overdue)
        return states

    input_serializers = {
        "create": StateCreateSerializer,
        "advance": AdvanceSerializer,
        "advance_many": AdvanceManySerializer,
        "jump": JumpSerializer,
        "cancel": CancelSerializer,
    }

    def get_serializer_class(self) -> type[Any]:
        if self.action == "list" and self.request.method == "GET":
            return StateSerializer
        return super().get_serializer_class()

    def respond(self, state: State, code: int = status.HTTP_200_OK) -> Response:
        fresh = State.objects.select_related("flow", "current_node", "subject_content_type").get(pk=state.pk)
        return Response(StateDetailSerializer(fresh, context=self.get_serializer_context()).data, status=code)

    def example_body(self, method: str) -> dict[str, Any] | None:
        """Browsable API forms: an advance that works for this user (the
        first rule they may take where the flow branches; what the State's
        node and version are now), a start on the first flow."""
        if method != "POST":
            return None
        if self.action == "create":
            first = Flow.objects.order_by("pk").values_list("pk", flat=True).first()
            return {"flow": first}
        if self.action != "advance":
            return super().example_body(method)
        try:
            state = self.get_object()
        except (Http404, APIException):
            return {}
        options = state.transition_options(actor=self.request.user)
        allowed = [option.rule.class_label for option in options if option.allowed]
        body: dict[str, Any] = {"rule": allowed[0]} if len(options) > 1 and allowed else {}
        return {**body, "note": "", "expected_node": state.current_node.node_id, "expected_version": state.version}

    @document(parameters=FILTERS)
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @document(request=StateCreateSerializer, responses={201: StateDetailSerializer})
    def create(self, request: Request) -> Response:
        """Start a State at the flow's root (the root rule's ``on_enter`` runs).

        ``note`` and ``data`` are stored on the start's history row; the root
        rule's ``permission`` refuses (403) a user who may not start it."""
        data = self.input(StateCreateSerializer)
        state = State.start(
            data["flow"],
            subject=data.get("subject"),
            actor=request.user,
            note=data.get("note", ""),
            data=data.get("data"),
        )
        return self.respond(state, status.HTTP_201_CREATED)

    @document(request=AdvanceSerializer, responses=StateDetailSerializer)
    @action(detail=True, methods=["post"])
    def advance(self, request: Request, pk: str | None = None) -> Response:
        """Move to the next node.

        ``rule`` picks a branch (its label, or its class name when no other
        child has it; several: 400 ambiguous_rule); ``note`` and ``data`` are
        stored on the history row; ``expected_node`` and ``expected_version``
        refuse (409) a move from what the caller did not see.  A rule whose
        permission the user lacks: 403 permission_denied; a guard's veto:
        400 transition_refused.  The State's ``transitions`` list what this
        user may take."""
        state = self.get_object()
        data = self.input(AdvanceSerializer)
        node, version = data.get("expected_node"), data.get("expected_version")
        at = state.current_node.node_id
        if (node is not None and node != at) or (version is not None and version != state.version):
            seen = ", ".join(
                text % {"value": value}
                for text, value in ((_("node %(value)s"), node), (_("version %(value)s"), version))
                if value is not None
            )
            raise ConcurrentTransition(
                _("State %(id)s is at node %(node)s, version %(version)s, not %(seen)s; refresh it and try again")
                % {"id": state.pk, "node": at, "version": state.version, "seen": seen},
                state=state,
            )
        # next_state() applies only from the version loaded here: a move in
        # between is refused too
        state.next_state(data.get("rule"), actor=request.user, note=data.get("note", ""), data=data.get("data"))
        return self.respond(state)

    @document(request=AdvanceManySerializer, responses=AdvanceManyResultSerializer, operation_id="states_advance_many")
    @action(detail=False, methods=["post"], url_path="advance", url_name="advance-many")
    def advance_many(self, request: Request) -> Response:
        """Advance many States (``State.objects.advance_many``): one result per
        State, 200 even when some (or, with ``atomic``, all) did not move."""
        data = self.input(AdvanceManySerializer)
        results = State.objects.advance_many(
            data["states"],
            data.get("rule"),
            actor=request.user,
            note=data["note"],
            data=data.get("data"),
            atomic=data["atomic"],
        )
        advanced = sum(1 for r in results if r.ok)
        body = {
            "advanced": advanced,
            "failed": len(results) - advanced,
            "results": MoveResultSerializer(results, many=True).data,
        }
        return Response(body)

    def expect_version(self, state: State, version: int | None) -> None:
        if version is not None and version != state.version:
            raise ConcurrentTransition(
                _("State %(id)s is at version %(version)s, not %(seen)s; refresh it and try again")
                % {"id": state.pk, "version": state.version, "seen": version},
                state=state,
            )

    @document(request=JumpSerializer, responses=StateDetailSerializer)
    @action(detail=True, methods=["post"])
    def jump(self, request: Request, pk: str | None = None) -> Response:
        """Move the State to any node of its flow, edges and guards ignored
        (``flowr.jump_state``); callbacks only with ``callbacks``."""
        state = self.get_object()
        data = self.input(JumpSerializer)
        self.expect_version(state, data.get("expected_version"))
        node = Node.objects.filter(pk=data["node"]).first()
        if node is None:
            raise NodeNotInFlow(_("No node %(node)s") % {"node": data["node"]}, state=state)
        state.jump_to(node, actor=request.user, note=data["note"], callbacks=data["callbacks"])
        return self.respond(state)

    @document(request=CancelSerializer, responses=StateDetailSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        """Cancel the State for good (``flowr.cancel_state``): no more moves,
        and it no longer freezes its flow."""
        state = self.get_object()
        data = self.input(CancelSerializer)
        self.expect_version(state, data.get("expected_version"))
        state.cancel(actor=request.user, note=data["note"])
        return self.respond(state)

    @document(responses=StateHistorySerializer(many=True))
    @action(detail=True, methods=["get"])
    def history(self, request: Request, pk: str | None = None) -> Response:
        """Every start and transition of the State, oldest first (paginated)."""
        state = self.get_object()
        rows = StateHistory.objects.filter(state_id=state.pk).select_related("from_node", "to_node").order_by("seq")
        return self.paginated(rows, StateHistorySerializer)

    @document(parameters=[FORMAT_PARAMETER], responses=DIAGRAM_RESPONSES)
    @action(detail=True, methods=["get"])
    def diagram(self, request: Request, pk: str | None = None) -> Response:
        """The State's flow as DOT or Mermaid, its node and path highlighted."""
        state = self.get_object()
        if self.diagram_format() == "mermaid":
            return Response(export.flow_to_mermaid(state.flow, state=state))
        return Response(export.flow_to_dot(state.flow, state=state))
