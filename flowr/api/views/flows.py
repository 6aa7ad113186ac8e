"""``/flows/``: CRUD, the editor's graph, clone, export/import, diagram."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Count, F, ProtectedError, Q, QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from flowr import edits, export, governance, policy, simulator
from flowr.api import params
from flowr.api.openapi import DIAGRAM_RESPONSES
from flowr.api.serializers import (
    FlowCloneSerializer,
    FlowCreateSerializer,
    FlowDiffSerializer,
    FlowEditSerializer,
    FlowGraphSerializer,
    FlowImportSerializer,
    FlowMigrateSerializer,
    FlowSerializer,
    FlowStatusSerializer,
    FlowUpdateSerializer,
    MigrationReportSerializer,
    RevisionSerializer,
    SimulateSerializer,
    SimulationReportSerializer,
    StatusResultSerializer,
    UndoResultSerializer,
)
from flowr.api.views.base import DiagramMixin, FlowrViewSet, document
from flowr.api.views.rule_sets import FORMAT_PARAMETER
from flowr.diff import diff_flows
from flowr.exceptions import FlowInUse, MappingIncomplete
from flowr.models import Flow, FlowEdit
from flowr.readmodel import FlowGraph
from flowr.versions import migrate_states

VIEW, ADD, CHANGE, DELETE = "flowr.view_flow", "flowr.add_flow", "flowr.change_flow", "flowr.delete_flow"
CHANGE_STATE = "flowr.change_state"
STATUS_FILTER = OpenApiParameter(
    "status", str, enum=[choice for choice, _label in policy.STATUS_CHOICES], description="Only flows in this status."
)


def flows() -> QuerySet[Flow]:
    """Flows with what their representation needs, in one query."""
    # aggregation queries ignore Meta.ordering: order explicitly (pagination)
    return (
        Flow.objects.select_related("rule_set", "state_graph")
        .annotate(
            running_states=Count("states", filter=Q(states__cancelled__isnull=True)),
            root_node=F("state_graph__root_id"),
        )
        .order_by("name", "version", "pk")
    )


class FlowViewSet(DiagramMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, FlowrViewSet):
    """Flows: state machines built from a rule set, edited node by node."""

    serializer_class = FlowSerializer
    input_serializers = {
        "create": FlowCreateSerializer,
        "partial_update": FlowUpdateSerializer,
        "clone": FlowCloneSerializer,
        "import_flow": FlowImportSerializer,
        "undo": RevisionSerializer,
        "redo": RevisionSerializer,
        "simulate": SimulateSerializer,
        "set_status": FlowStatusSerializer,
        "migrate": FlowMigrateSerializer,
    }
    action_permissions = {
        "list": [VIEW],
        "retrieve": [VIEW],
        "graph": [VIEW],
        "export": [VIEW],
        "diagram": [VIEW],
        "create": [ADD],
        "clone": [VIEW, ADD],
        "import_flow": [ADD],
        "partial_update": [CHANGE],
        "undo": [CHANGE],
        "redo": [CHANGE],
        "edits": [VIEW],
        # changes nothing; a subject also needs its model's view permission (the serializer)
        "simulate": [VIEW],
        "destroy": [DELETE],
        "set_status": [CHANGE],
        "diff": [VIEW],
        "migrate": [CHANGE, CHANGE_STATE],
    }
    fallback_permissions = [CHANGE]

    def get_queryset(self) -> QuerySet[Flow]:
        found = flows()
        if self.action == "list":
            wanted = params.single(self.request.query_params, "status")
            if wanted is not None:
                if wanted not in dict(policy.STATUS_CHOICES):
                    choices = ", ".join(dict(policy.STATUS_CHOICES))
                    raise ValidationError({"status": [_("Choose one of %(choices)s.") % {"choices": choices}]})
                found = found.filter(status=wanted)
        return found

    @document(parameters=[STATUS_FILTER])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The flows (``?status=`` keeps those in one status), paginated."""
        return super().list(request, *args, **kwargs)

    def respond(self, flow: Flow, code: int = status.HTTP_200_OK) -> Response:
        return Response(FlowSerializer(flows().get(pk=flow.pk)).data, status=code)

    @document(request=FlowCreateSerializer, responses={201: FlowSerializer})
    def create(self, request: Request) -> Response:
        data = self.input(FlowCreateSerializer)
        flow = Flow.factory(data["name"], data["rule_set"])
        return self.respond(flow, status.HTTP_201_CREATED)

    @document(request=FlowUpdateSerializer, responses=FlowSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        """Rename the flow (refused with 409 while States use it)."""
        flow = self.get_object()
        data = self.input(FlowUpdateSerializer, partial=True)
        if "name" in data:
            with edits.acting(request.user, revision=data.get("revision")):
                edits.rename_flow(flow, data["name"])
        return self.respond(flow)

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        """Delete the flow and its graph (refused with 409 while States use it)."""
        flow = self.get_object()
        try:
            with transaction.atomic():
                flow.delete()
        except ProtectedError as exc:
            raise FlowInUse(
                _("Flow %(name)r cannot be deleted: states use it") % {"name": flow.name}, flow=flow
            ) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)

    @document(responses=FlowGraphSerializer)
    @action(detail=True, methods=["get"])
    def graph(self, request: Request, pk: str | None = None) -> Response:
        """The graph document: the flow, its nodes (one row each) and what the editor may do with each."""
        return Response(FlowGraph.load(self.get_object()).as_json())

    def undo_or_redo(self, redo: bool) -> Response:
        flow = self.get_object()
        data = self.input(RevisionSerializer)
        with edits.acting(self.request.user, revision=data.get("revision")):
            done = edits.redo(flow) if redo else edits.undo(flow)
        return Response({"revision": done.revision, "edit": FlowEditSerializer(done.edit).data})

    @document(request=RevisionSerializer, responses=UndoResultSerializer)
    @action(detail=True, methods=["post"])
    def undo(self, request: Request, pk: str | None = None) -> Response:
        """Revert the flow's latest edit (409 ``nothing_to_undo``; 400 when the rules refuse the inverse now)."""
        return self.undo_or_redo(redo=False)

    @document(request=RevisionSerializer, responses=UndoResultSerializer)
    @action(detail=True, methods=["post"])
    def redo(self, request: Request, pk: str | None = None) -> Response:
        """Re-apply the edit undo reverted last (409 ``nothing_to_redo``)."""
        return self.undo_or_redo(redo=True)

    @document(responses=FlowEditSerializer(many=True))
    @action(detail=True, methods=["get"])
    def edits(self, request: Request, pk: str | None = None) -> Response:
        """The flow's edit log, oldest first, paginated."""
        flow = self.get_object()
        return self.paginated(FlowEdit.objects.filter(flow_id=flow.pk).order_by("seq"), FlowEditSerializer)

    @document(request=FlowCloneSerializer, responses={201: FlowSerializer})
    @action(detail=True, methods=["post"])
    def clone(self, request: Request, pk: str | None = None) -> Response:
        """An editable copy: the next version of the flow's family."""
        flow = self.get_object()
        data = self.input(FlowCloneSerializer)
        return self.respond(flow.clone(name=data.get("name")), status.HTTP_201_CREATED)

    @document(responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["get"])
    def export(self, request: Request, pk: str | None = None) -> Response:
        """The flow as a JSON document (``POST /flows/import/`` reads it back)."""
        return Response(export.export_flow(self.get_object()))

    @document(request=FlowImportSerializer, responses={201: FlowSerializer})
    @action(detail=False, methods=["post"], url_path="import", url_name="import")
    def import_flow(self, request: Request) -> Response:
        """Create a flow from an exported document: ``{"document", "name"?, "rule_set"?}``."""
        data = self.input(FlowImportSerializer)
        flow = export.import_flow(data["document"], name=data.get("name"), rule_set=data.get("rule_set"))
        return self.respond(flow, status.HTTP_201_CREATED)

    @document(parameters=[FORMAT_PARAMETER], responses=DIAGRAM_RESPONSES)
    @action(detail=True, methods=["get"])
    def diagram(self, request: Request, pk: str | None = None) -> Response:
        """The flow as Graphviz DOT or Mermaid text."""
        flow = self.get_object()
        if self.diagram_format() == "mermaid":
            return Response(export.flow_to_mermaid(flow))
        return Response(export.flow_to_dot(flow))

    @document(request=SimulateSerializer, responses=SimulationReportSerializer)
    @action(detail=True, methods=["post"])
    def simulate(self, request: Request, pk: str | None = None) -> Response:
        """Dry-run the flow with its real rules and keep nothing (:func:`flowr.simulate`).

        A State is started (on ``subject`` when given) and moved by the
        choices, then by the first allowed child; the guards, permissions
        (asked for the requesting user), callbacks and signals run inside a
        transaction that is rolled back.  The report gives each step's node,
        every child with its verdict and reason, the callbacks run or skipped,
        and any exception.  ``explore`` walks every branch instead; ``now``
        fast-forwards one path to that time (the timers due by then fire);
        ``stop_after_choices`` stops once the choices are taken."""
        flow = self.get_object()
        data = self.input(SimulateSerializer)
        report = simulator.simulate(
            flow,
            subject=data.get("subject"),
            actor=request.user,
            choices=data.get("choices"),
            explore=data["explore"],
            max_steps=data["max_steps"],
            now=data.get("now"),
            stop_after_choices=data["stop_after_choices"],
        )
        return Response(report.as_dict())

    @document(request=FlowStatusSerializer, responses=StatusResultSerializer)
    @action(detail=True, methods=["post"], url_path="status", url_name="status")
    def set_status(self, request: Request, pk: str | None = None) -> Response:
        """Change the flow's status: ``{"status": "in_review" | "published" | "retired" | "draft"}``
        (409 ``status_change_not_allowed`` when its status does not allow it; 403
        ``publish_not_permitted`` for four-eyes publishing).  Logged with the user."""
        flow = self.get_object()
        wanted = self.input(FlowStatusSerializer)["status"]
        changed = governance.change_status(flow, policy.TRANSITION_TO[wanted], request.user)
        data = {
            "flow": FlowSerializer(flows().get(pk=flow.pk)).data,
            "edit": FlowEditSerializer(changed.edit).data,
            "retired": list(changed.retired),
        }
        return Response(data)

    @document(responses=FlowDiffSerializer)
    @action(detail=True, methods=["get"], url_path=r"diff/(?P<other>[0-9]{1,19})", url_name="diff")
    def diff(self, request: Request, pk: str | None = None, other: str | None = None) -> Response:
        """What changed from this flow to flow ``other`` (see flowr.diff): nodes and links
        added and removed, nodes changed; all empty for a flow and its unchanged clone."""
        flow = self.get_object()
        other_flow = flows().filter(pk=int(other or 0)).first()
        if other_flow is None:
            raise NotFound(_("No flow %(id)s.") % {"id": other})
        return Response(diff_flows(flow, other_flow))

    @document(request=FlowMigrateSerializer, responses=MigrationReportSerializer)
    @action(detail=True, methods=["post"])
    def migrate(self, request: Request, pk: str | None = None) -> Response:
        """Move the flow's running States to ``target``, all or nothing: ``{"target", "mapping"?,
        "dry_run"?}``.  400 ``mapping_incomplete`` (with ``problems``: the unmapped nodes) when
        a node holding States has no target; a dry run reports them instead."""
        flow = self.get_object()
        data = self.input(FlowMigrateSerializer)
        try:
            report = migrate_states(
                flow, data["target"], mapping=data.get("mapping"), dry_run=data["dry_run"], actor=request.user
            )
        except MappingIncomplete as exc:
            exc.problems = [vars(u) for u in exc.report.unmapped]
            raise
        return Response(report.as_dict())
