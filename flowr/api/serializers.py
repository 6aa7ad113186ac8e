"""Serializers of the API: strict input (unknown fields and wrong JSON types
are refused, not coerced) and the output of each noun."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from flowr import policy, simulator
from flowr.api.permissions import user_may
from flowr.conf import settings as flowr_settings
from flowr.guards import TransitionOption
from flowr.models import Flow, Node, RuleSet, State, StateHistory, moves
from flowr.readmodel import NODE_COLUMNS
from flowr.rules import Rule

# -- strict input --------------------------------------------------------------


class StrictCharField(serializers.CharField):
    """A string, and only a string (DRF would turn ``5`` into ``"5"``)."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer (not a boolean, float or numeric string)."""

    default_error_messages = {"invalid": "A valid integer is required."}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": 2**63 - 1})
class StrictPrimaryKeyField(serializers.PrimaryKeyRelatedField):
    """A JSON integer naming an existing row."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("incorrect_type", data_type=type(data).__name__)
        if data < 1 or data > 2**63 - 1:
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """A JSON ``true`` or ``false`` (DRF would take ``"yes"``, ``1``...)."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


@extend_schema_field({"type": "object", "additionalProperties": True})
class JSONObjectField(serializers.JSONField):
    """A JSON object (not an array, a scalar or null)."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            raise serializers.ValidationError(_("Expected a JSON object."), code="invalid")
        return super().to_internal_value(data)


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not declare (read-only ones included)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            writable = {name for name, f in self.fields.items() if not f.read_only}
            unknown = sorted(str(key) for key in data if key not in writable)
            if unknown:
                raise serializers.ValidationError(
                    {key: [serializers.ErrorDetail(_("Unknown field."), code="unknown_field")] for key in unknown}
                )
        return super().to_internal_value(data)


# -- rules ---------------------------------------------------------------------


class RuleRefSerializer(serializers.Serializer):
    """A rule named by its label (``module.ClassName``), class name and
    verbose name (in the request's language)."""

    label = serializers.CharField()  # type: ignore[assignment]  # the API's field "label" shadows Field.label in the stubs
    name = serializers.CharField()
    verbose_name = serializers.CharField()


class RuleSerializer(serializers.Serializer):
    """A Rule class the project defines."""

    label = serializers.CharField(source="class_label")  # type: ignore[assignment]  # as above
    name = serializers.CharField()
    verbose_name = serializers.CharField()
    children = serializers.SerializerMethodField()
    multiple_paths = serializers.BooleanField()
    has_edit_screen = serializers.BooleanField()

    def get_children(self, rule: type[Rule]) -> list[str]:
        return rule.child_labels()


# -- rule sets -------------------------------------------------------------------


class RuleSetSerializer(serializers.ModelSerializer):
    root_rule = serializers.CharField(source="root_rule_label")
    root_rule_name = serializers.CharField()
    root_rule_verbose_name = serializers.CharField()
    missing_rule = serializers.BooleanField(source="rule_missing")

    class Meta:
        model = RuleSet
        fields = [
            "id",
            "name",
            "root_rule",
            "root_rule_name",
            "root_rule_verbose_name",
            "missing_rule",
            "created",
            "updated",
        ]
        read_only_fields = fields


class RuleSetDetailSerializer(RuleSetSerializer):
    elements = serializers.SerializerMethodField()

    class Meta(RuleSetSerializer.Meta):
        fields = [*RuleSetSerializer.Meta.fields, "elements"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_elements(self, rule_set: RuleSet) -> dict[str, list[dict[str, Any]]]:
        """The rule graph as cytoscape.js elements (ids are rule names, as in 0.2)."""
        return policy.rule_graph_elements(rule_set.root_rule_label, ids="name")


class RuleSetCreateSerializer(StrictSerializer):
    name = StrictCharField(max_length=100)
    root_rule = StrictCharField(max_length=255, help_text="Label of the root rule (module.ClassName).")


# -- flows -----------------------------------------------------------------------


class FlowSerializer(serializers.ModelSerializer):
    """A flow; expects the view's queryset annotations (``running_states``,
    ``root_node``); without them the counts are read per flow."""

    rule_set_name = serializers.CharField(source="rule_set.name", read_only=True)
    frozen = serializers.SerializerMethodField()
    state_count = serializers.SerializerMethodField()
    root_node = serializers.IntegerField(read_only=True)

    class Meta:
        model = Flow
        fields = [
            "id",
            "name",
            "version",
            "family",
            "rule_set",
            "rule_set_name",
            "frozen",
            "state_count",
            "root_node",
            "revision",
            "status",
            "created",
            "updated",
        ]
        read_only_fields = fields

    def get_state_count(self, flow: Flow) -> int:
        annotated = getattr(flow, "running_states", None)  # not ``state_count``: that is Flow's method
        return int(annotated) if annotated is not None else flow.state_count()

    def get_frozen(self, flow: Flow) -> bool:
        return self.get_state_count(flow) > 0


class FlowCreateSerializer(StrictSerializer):
    name = StrictCharField(max_length=100)
    rule_set = StrictPrimaryKeyField(queryset=RuleSet.objects.all())


REVISION_HELP = (
    "The flow revision (graph document's flow.revision) the edit was made on: an edit on an older "
    "revision that conflicts with the edits since is refused with 409 concurrent_edit."
)


def revision_field() -> StrictIntegerField:
    return StrictIntegerField(required=False, min_value=0, max_value=2**31 - 1, help_text=REVISION_HELP)


class RevisionSerializer(StrictSerializer):
    """An optional ``revision`` (undo, redo, and edits without other input)."""

    revision = revision_field()


class FlowUpdateSerializer(StrictSerializer):
    name = StrictCharField(max_length=100)
    revision = revision_field()


class FlowCloneSerializer(StrictSerializer):
    name = StrictCharField(max_length=100, required=False, help_text="Defaults to the source flow's name.")


class FlowImportSerializer(StrictSerializer):
    document = JSONObjectField(help_text="A document made by the export endpoint.")
    name = StrictCharField(max_length=100, required=False)
    rule_set = StrictPrimaryKeyField(queryset=RuleSet.objects.all(), required=False)


class EditRefSerializer(serializers.Serializer):
    seq = serializers.IntegerField()
    operation = serializers.CharField()
    description = serializers.CharField()


class FlowEditSerializer(serializers.Serializer):
    """One row of a flow's edit log."""

    seq = serializers.IntegerField()
    actor = serializers.CharField(source="actor_name", allow_null=True, help_text="Username; null when unknown.")
    operation = serializers.CharField()
    description = serializers.CharField()
    created = serializers.DateTimeField()
    undone = serializers.BooleanField()


class FlowStatusSerializer(StrictSerializer):
    """``{"status": ...}``: the status the flow should get (each has one transition to it)."""

    status = serializers.ChoiceField(
        choices=[choice for choice, _label in policy.STATUS_CHOICES],
        help_text="in_review: submit for review; published: publish; retired: retire; draft: back to draft.",
    )


class FlowMigrateSerializer(StrictSerializer):
    """Move the flow's running States to ``target`` (another flow of its rule set)."""

    target = StrictPrimaryKeyField(queryset=Flow.objects.all(), help_text="The flow the States move to (id).")
    mapping = serializers.DictField(
        child=StrictIntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        help_text='Explicit {"source node id": target node id} entries (Node ids), over the automatic mapping.',
    )
    dry_run = StrictBooleanField(required=False, default=False)

    def validate_mapping(self, value: dict[str, int]) -> dict[int, int]:
        mapping = {}
        for key, target in value.items():
            if not (key.isascii() and key.isdigit()) or len(key) > 19 or not 0 < int(key) <= 2**63 - 1:
                raise serializers.ValidationError(_("%(key)r is not a node id.") % {"key": key})
            mapping[int(key)] = target
        return mapping


class MigrationMoveSerializer(serializers.Serializer):
    state = serializers.IntegerField()
    source_node = serializers.IntegerField()
    target_node = serializers.IntegerField()
    rule_label = serializers.CharField()


class MigrationUnmappedSerializer(serializers.Serializer):
    node = serializers.IntegerField()
    rule_label = serializers.CharField()
    rule_name = serializers.CharField()
    states = serializers.ListField(child=serializers.IntegerField())
    path = serializers.ListField(child=serializers.CharField())


class MigrationReportSerializer(serializers.Serializer):
    """What a migration did, or (``dry_run``) would do."""

    source = serializers.IntegerField()  # type: ignore[assignment]  # the API's field "source" shadows Field.source in the stubs
    target = serializers.IntegerField()
    dry_run = serializers.BooleanField()
    moved = serializers.IntegerField()
    moves = MigrationMoveSerializer(many=True)
    unmapped = MigrationUnmappedSerializer(many=True)


class DiffNodeSerializer(serializers.Serializer):
    node = serializers.IntegerField()
    rule = serializers.CharField()
    rule_name = serializers.CharField()


class DiffChangedNodeSerializer(DiffNodeSerializer):
    other = serializers.IntegerField(help_text="The paired node of the other flow.")
    other_rule = serializers.CharField()
    changes = serializers.DictField(help_text='{fact: {"old": ..., "new": ...}}')


class DiffLinkSerializer(serializers.Serializer):
    source = serializers.IntegerField()  # type: ignore[assignment]  # as in MigrationReportSerializer
    target = serializers.IntegerField()
    other_source = serializers.IntegerField(allow_null=True)
    other_target = serializers.IntegerField(allow_null=True)


class FlowDiffSerializer(serializers.Serializer):
    """What changed from this flow to the other (see flowr.diff)."""

    added_nodes = DiffNodeSerializer(many=True)
    removed_nodes = DiffNodeSerializer(many=True)
    changed_nodes = DiffChangedNodeSerializer(many=True)
    added_links = DiffLinkSerializer(many=True)
    removed_links = DiffLinkSerializer(many=True)


class StatusResultSerializer(serializers.Serializer):
    flow = FlowSerializer()
    edit = FlowEditSerializer()
    retired = serializers.ListField(child=serializers.IntegerField(), help_text="Versions publishing retired (ids).")


class UndoResultSerializer(serializers.Serializer):
    revision = serializers.IntegerField()
    edit = FlowEditSerializer()


class FlowSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    version = serializers.IntegerField()
    family = serializers.UUIDField()
    frozen = serializers.BooleanField()
    state_count = serializers.IntegerField()
    rule_set = serializers.IntegerField()
    rule_set_name = serializers.CharField()
    root_node = serializers.IntegerField()
    revision = serializers.IntegerField(help_text="The flow's edit counter: +1 per applied edit.")
    undo = EditRefSerializer(allow_null=True, help_text="The edit undo would revert (null: none).")
    redo = EditRefSerializer(allow_null=True, help_text="The edit redo would re-apply (null: none).")


# -- nodes ---------------------------------------------------------------------


class TimerSerializer(serializers.Serializer):
    """A node's timer: how long a State may wait there, and where the timeout moves it."""

    after = serializers.CharField(help_text="The delay, ISO 8601.")
    seconds = serializers.IntegerField()
    rule = serializers.CharField(help_text="The label of the rule the timeout moves the State to.")
    rule_name = serializers.CharField()
    text = serializers.CharField(help_text='In words: "times out after 3 days to Escalated".')


class NodeDataSerializer(serializers.Serializer):
    """One node as the graph and node endpoints describe it."""

    node = serializers.IntegerField(help_text="The Node's primary key.")
    rule_label = serializers.CharField()
    rule_name = serializers.CharField()
    rule_verbose_name = serializers.CharField()
    missing_rule = serializers.BooleanField()
    is_root = serializers.BooleanField()
    can_remove = serializers.BooleanField()
    cannot_remove_reason = serializers.CharField(allow_null=True)
    multiple_paths = serializers.BooleanField()
    has_edit_screen = serializers.BooleanField()
    max_children = serializers.IntegerField(allow_null=True)
    allowed_child_rules = RuleRefSerializer(many=True)
    full_reason = serializers.CharField(allow_null=True)
    children = serializers.ListField(child=serializers.IntegerField())
    state_count = serializers.IntegerField()
    timer = TimerSerializer(allow_null=True, help_text="The node's timer, null when it has none.")


class GraphRuleSerializer(serializers.Serializer):
    """A rule used by the flow's nodes."""

    label = serializers.CharField()  # type: ignore[assignment]  # the API's field "label" shadows Field.label in the stubs
    name = serializers.CharField()
    verbose_name = serializers.CharField()
    missing_rule = serializers.BooleanField(help_text="No Rule class has this label (any more).")
    multiple_paths = serializers.BooleanField()
    has_edit_screen = serializers.BooleanField()
    max_children = serializers.IntegerField(allow_null=True)


class GraphChildOptionsSerializer(serializers.Serializer):
    """What may be added under a node: the rules allowed now, or why none."""

    allowed_child_rules = RuleRefSerializer(many=True)
    full_reason = serializers.CharField(allow_null=True)


class GraphRemovalSerializer(serializers.Serializer):
    """Whether a node can be removed (``Node.can_remove()``), and why not."""

    can_remove = serializers.BooleanField()
    reason = serializers.CharField(allow_null=True)


class FlowGraphSerializer(serializers.Serializer):
    flow = FlowSummarySerializer()
    rules = GraphRuleSerializer(many=True, help_text="Indexed by a node row's `rule`.")
    child_options = GraphChildOptionsSerializer(many=True, help_text="Indexed by a node row's `child_options`.")
    removals = GraphRemovalSerializer(many=True, help_text="Indexed by a node row's `removal`.")
    timers = TimerSerializer(many=True, help_text="Indexed by a node row's `timer` (null: no timer).")
    node_columns = serializers.ListField(
        child=serializers.CharField(),
        help_text="The fields of a node row: " + ", ".join(NODE_COLUMNS) + ".",
    )
    nodes = serializers.ListField(
        child=serializers.ListField(child=serializers.JSONField()),
        help_text=(
            "One row per node, in tree order (the root first): the node's pk, the pk of the node it was "
            "created under (null for the root), its children's pks (one edge each: a backbone edge when "
            "the child's backbone_parent is this node, a link otherwise), then indexes into rules, "
            "child_options and removals, the number of States standing on it, and an index into timers "
            "(null: no timer)."
        ),
    )


class LinkSerializer(serializers.Serializer):
    child = serializers.IntegerField()
    backbone = serializers.BooleanField(help_text="The child's creation-tree edge.")
    can_disconnect = serializers.BooleanField()
    reason = serializers.CharField(allow_null=True)


class InsertOptionsSerializer(serializers.Serializer):
    child = serializers.IntegerField()
    rules = RuleRefSerializer(many=True)


class PruneAboveSerializer(serializers.Serializer):
    node = serializers.IntegerField()
    rule_name = serializers.CharField()
    because = serializers.CharField()


class NodeDetailSerializer(NodeDataSerializer):
    id = serializers.IntegerField()
    flow = serializers.IntegerField()
    parents = serializers.ListField(child=serializers.IntegerField())
    prune_list = serializers.ListField(child=serializers.IntegerField())
    prune_above = PruneAboveSerializer(
        many=True, help_text="Nodes above this one (creation-tree ancestors) a prune of it also removes, and why."
    )
    links = LinkSerializer(many=True, help_text="One per child: may the edge be deleted, and why not.")
    insert_options = InsertOptionsSerializer(many=True, help_text="Per child: rules a new node between may have.")
    rule_options = RuleRefSerializer(many=True, help_text="Rules this node may change to.")
    rule_reason = serializers.CharField(allow_null=True, help_text="Why no rule change is possible.")
    settings = serializers.DictField(help_text="The node's settings as stored (JSON values of the rule's form).")
    settings_schema = serializers.DictField(
        allow_null=True,
        help_text="The JSON Schema of the rule's Settings form (null: the rule has none); "
        "choice fields list x-choices (value and label).",
    )


class EmptySerializer(StrictSerializer):
    """A body that must be empty (or ``{}``)."""


class AddChildSerializer(StrictSerializer):
    rule = StrictCharField(max_length=255, help_text="Label of the child's rule.")
    revision = revision_field()


class ConnectSerializer(StrictSerializer):
    target = StrictPrimaryKeyField(queryset=Node.objects.all(), help_text="Node pk of the new child.")
    revision = revision_field()


class DisconnectSerializer(StrictSerializer):
    child = StrictIntegerField(min_value=1, max_value=2**63 - 1, help_text="Node pk of the child whose link goes.")
    revision = revision_field()


class InsertSerializer(StrictSerializer):
    rule = StrictCharField(max_length=255, help_text="Label of the new node's rule.")
    child = StrictIntegerField(min_value=1, max_value=2**63 - 1, help_text="Node pk of the child it goes before.")
    revision = revision_field()


class ChangeRuleSerializer(StrictSerializer):
    rule = StrictCharField(max_length=255, help_text="Label of the node's new rule.")
    revision = revision_field()


class SettingsSerializer(StrictSerializer):
    """New values of some of a node's settings (merged into the stored ones)."""

    settings = serializers.DictField(
        help_text="Values by field name of the rule's Settings form (see settings_schema)."
    )
    revision = revision_field()


class PruneResultSerializer(serializers.Serializer):
    removed = serializers.ListField(child=serializers.IntegerField())


# -- states ----------------------------------------------------------------------


def content_type_label(content_type: ContentType | None) -> str | None:
    return f"{content_type.app_label}.{content_type.model}" if content_type else None


class StateSerializer(serializers.ModelSerializer):
    """A State; expects ``select_related("flow", "current_node", "subject_content_type")``."""

    flow_name = serializers.CharField(source="flow.name", read_only=True)
    current_node = serializers.IntegerField(source="current_node.node_id", read_only=True)
    current_rule_label = serializers.CharField(source="current_node.rule_label", read_only=True)
    current_rule_name = serializers.CharField(source="current_node.rule_name", read_only=True)
    current_rule_verbose_name = serializers.CharField(source="current_node.rule_verbose_name", read_only=True)
    missing_rule = serializers.BooleanField(source="current_node.rule_missing", read_only=True)
    subject_type = serializers.SerializerMethodField()
    subject_id = serializers.SerializerMethodField()

    class Meta:
        model = State
        fields = [
            "id",
            "flow",
            "flow_name",
            "current_node",
            "current_rule_label",
            "current_rule_name",
            "current_rule_verbose_name",
            "missing_rule",
            "version",
            "subject_type",
            "subject_id",
            "created",
            "updated",
            "cancelled",
            "due_at",
            "due_rule",
        ]
        read_only_fields = fields

    def get_subject_type(self, state: State) -> str | None:
        return content_type_label(state.subject_content_type)

    def get_subject_id(self, state: State) -> str | None:
        return state.subject_id if state.subject_content_type_id else None


class TransitionOptionSerializer(serializers.Serializer):
    """A child of the State's current node, as the requesting user sees it
    (:class:`flowr.guards.TransitionOption`)."""

    label = serializers.CharField(  # type: ignore[assignment]  # shadows Field.label in the stubs
        source="rule.class_label", help_text="The rule's label (module.ClassName)."
    )
    name = serializers.CharField(source="rule.name")
    verbose_name = serializers.CharField(source="rule.verbose_name", help_text="The rule's name people see.")
    node = serializers.IntegerField(source="node.node_id", help_text="The child's Node id.")
    allowed = serializers.BooleanField(help_text="Whether ``advance`` would take it now for this user.")
    reason = serializers.CharField(allow_null=True, help_text="Why not (the permission's or the guard's reason).")
    code = serializers.CharField(
        allow_null=True, help_text='Why not, as a code: "permission_denied" or "transition_refused".'
    )


class StateDetailSerializer(StateSerializer):
    """A State with what the requesting user (``context["request"].user``;
    none: trusted, permissions not checked) may do with it next."""

    finished = serializers.SerializerMethodField()
    next_rules = serializers.SerializerMethodField()
    transitions = serializers.SerializerMethodField()

    class Meta(StateSerializer.Meta):
        fields = [*StateSerializer.Meta.fields, "finished", "next_rules", "transitions"]
        read_only_fields = fields

    def get_finished(self, state: State) -> bool:
        return state.is_finished

    def options(self, state: State) -> list[TransitionOption]:
        """``state.transition_options()`` for the requesting user, asked once per State."""
        cache: dict[Any, list[TransitionOption]] = self.__dict__.setdefault("_options", {})
        if state.pk not in cache:
            request = self.context.get("request")
            cache[state.pk] = state.transition_options(actor=getattr(request, "user", None))
        return cache[state.pk]

    @extend_schema_field(RuleRefSerializer(many=True))
    def get_next_rules(self, state: State) -> list[dict[str, str]]:
        """The rules ``advance`` would accept now from this user (permissions and guards consulted)."""
        return [
            {"label": o.rule.class_label, "name": o.rule.name, "verbose_name": str(o.rule.verbose_name)}
            for o in self.options(state)
            if o.allowed
        ]

    @extend_schema_field(TransitionOptionSerializer(many=True))
    def get_transitions(self, state: State) -> Any:
        """Every child of the current node, allowed or refused (with the reason) for this user."""
        return TransitionOptionSerializer(self.options(state), many=True).data


class StateCreateSerializer(StrictSerializer):
    flow = StrictPrimaryKeyField(queryset=Flow.objects.all())
    subject_type = StrictCharField(
        max_length=201, required=False, help_text='"app_label.model", one of FLOWR["SUBJECT_MODELS"]'
    )
    subject_id = StrictCharField(max_length=255, required=False)
    note = StrictCharField(
        required=False, allow_blank=True, trim_whitespace=False, help_text="Stored on the start's history row."
    )
    # the API's field "data" shadows Serializer.data in the stubs (DRF takes declared fields off the class)
    data = serializers.JSONField(  # type: ignore[assignment]
        required=False, allow_null=True, help_text="Any JSON, stored on the start's history row."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return with_subject(attrs, self.context)


def with_subject(attrs: dict[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    """``attrs`` with ``subject`` resolved from ``subject_type`` and ``subject_id`` (both or neither)."""
    kind, pk = attrs.get("subject_type"), attrs.get("subject_id")
    if (kind is None) != (pk is None):
        raise serializers.ValidationError(_("Give subject_type and subject_id together."), code="invalid")
    if kind is not None:
        request = context.get("request")
        attrs["subject"] = resolve_subject(kind, pk, getattr(request, "user", None))
    return attrs


def subject_content_type(kind: str, user: Any) -> ContentType:
    """The ContentType of ``"app_label.model"``, a subject model ``user`` may view.

    A subject model is one listed in ``FLOWR["SUBJECT_MODELS"]``; naming one
    needs its view permission. Any other type -- undeclared, not installed, or
    not viewable by ``user`` -- gets the same ValidationError, before any
    object is looked up: the answer never tells whether an object exists.
    """
    app_label, _dot, model = kind.lower().partition(".")
    declared = {label.lower() for label in flowr_settings.SUBJECT_MODELS}
    refusal = serializers.ValidationError(
        {"subject_type": [_("Not a subject type: %(kind)r.") % {"kind": kind}]}, code="invalid"
    )
    if f"{app_label}.{model}" not in declared or not user_may(user, f"{app_label}.view_{model}"):
        raise refusal
    try:
        return ContentType.objects.get_by_natural_key(app_label, model)
    except ContentType.DoesNotExist:
        raise refusal from None


def resolve_subject(kind: str, pk: Any, user: Any) -> Any:
    content_type = subject_content_type(kind, user)
    model = content_type.model_class()
    if model is None:
        raise serializers.ValidationError(
            {"subject_type": [_("Not a subject type: %(kind)r.") % {"kind": kind}]}, code="invalid"
        )
    try:
        return model._default_manager.get(pk=pk)
    except (ObjectDoesNotExist, DjangoValidationError, ValueError, TypeError, OverflowError):
        raise serializers.ValidationError(
            {"subject_id": [_("No %(kind)s with id %(id)r.") % {"kind": kind, "id": pk}]}, code="does_not_exist"
        ) from None


class AdvanceSerializer(StrictSerializer):
    """``expected_node`` and ``expected_version`` are what the caller saw; a
    State that went round a loop is back at its node but not its version."""

    rule = StrictCharField(
        max_length=255,
        required=False,
        allow_null=True,
        help_text="The chosen rule: its label, or its class name when no other child has it. "
        "Needed only where the flow branches.",
    )
    note = StrictCharField(
        required=False, allow_blank=True, trim_whitespace=False, help_text="Stored on the history row."
    )
    data = serializers.JSONField(  # type: ignore[assignment]  # as in StateCreateSerializer
        required=False, allow_null=True, help_text="Any JSON, stored on the history row."
    )
    expected_node = StrictIntegerField(
        required=False,
        allow_null=True,
        help_text="The State's current_node (a Node id) the caller saw; refused (409) if the State is elsewhere.",
    )
    expected_version = StrictIntegerField(
        required=False,
        allow_null=True,
        min_value=0,
        help_text="The State's version the caller saw; refused (409) if the State moved since, even back here.",
    )


#: The most States one ``POST /states/advance/`` may name.
ADVANCE_MANY_MAX = moves.BATCH_MAX

NOTE_MAX = 10_000


class AdvanceManySerializer(StrictSerializer):
    states = serializers.ListField(
        child=StrictIntegerField(min_value=1, max_value=2**63 - 1),
        allow_empty=False,
        max_length=ADVANCE_MANY_MAX,
        help_text=f"Ids of the States to advance (at most {ADVANCE_MANY_MAX}); each State once, in this order.",
    )
    rule = StrictCharField(
        max_length=255,
        required=False,
        allow_null=True,
        help_text="The rule to take where a State branches: its label, or its class name when no other child has it.",
    )
    note = StrictCharField(max_length=NOTE_MAX, required=False, allow_blank=True, default="")
    data = serializers.JSONField(  # type: ignore[assignment]  # as in StateCreateSerializer
        required=False, allow_null=True, help_text="Any JSON, stored on each history row."
    )
    atomic = StrictBooleanField(
        required=False, default=False, help_text="All or nothing: any failure rolls every State back."
    )


class JumpSerializer(StrictSerializer):
    node = StrictIntegerField(
        min_value=1, max_value=2**63 - 1, help_text="The Node (id) of the State's flow to jump to."
    )
    note = StrictCharField(max_length=NOTE_MAX, required=False, allow_blank=True, default="")
    callbacks = StrictBooleanField(
        required=False, default=False, help_text="Run the left rule's on_leave and the new rule's on_enter."
    )
    expected_version = StrictIntegerField(
        required=False, allow_null=True, min_value=0, help_text="The State's version the caller saw (409 if it moved)."
    )


class CancelSerializer(StrictSerializer):
    note = StrictCharField(max_length=NOTE_MAX, required=False, allow_blank=True, default="")
    expected_version = StrictIntegerField(
        required=False, allow_null=True, min_value=0, help_text="The State's version the caller saw (409 if it moved)."
    )


class StateHistorySerializer(serializers.ModelSerializer):
    from_node = serializers.IntegerField(source="from_node.node_id", read_only=True, allow_null=True, default=None)
    to_node = serializers.IntegerField(source="to_node.node_id", read_only=True, allow_null=True, default=None)
    actor = serializers.IntegerField(source="actor_id", read_only=True, allow_null=True)
    from_rule_verbose_name = serializers.CharField(read_only=True)
    to_rule_verbose_name = serializers.CharField(read_only=True)

    class Meta:
        model = StateHistory
        fields = [
            "seq",
            "kind",
            "created",
            "from_node",
            "from_rule_label",
            "from_rule_name",
            "from_rule_verbose_name",
            "to_node",
            "to_rule_label",
            "to_rule_name",
            "to_rule_verbose_name",
            "actor",
            "actor_repr",
            "note",
            "data",
        ]
        read_only_fields = fields


class MoveResultSerializer(serializers.Serializer):
    """One State's outcome in ``POST /states/advance/``."""

    state = serializers.IntegerField(source="state_pk")
    ok = serializers.BooleanField()
    code = serializers.CharField(help_text='Why it did not move ("" when it did).')
    detail = serializers.CharField(source="message")
    history = StateHistorySerializer(allow_null=True, help_text="The new history row (when ok).")


class AdvanceManyResultSerializer(serializers.Serializer):
    advanced = serializers.IntegerField()
    failed = serializers.IntegerField()
    results = MoveResultSerializer(many=True)


# -- simulation ------------------------------------------------------------------

SIMULATE_MAX_STEPS = 1000


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "minLength": 1, "maxLength": 255},
            {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
        ]
    }
)
class ChoiceItemField(serializers.Field):
    """A child to take: a rule label or class name (string), or a node id (integer)."""

    default_error_messages = {"invalid": gettext_lazy("A rule label, a rule name or a node id is required.")}

    def to_internal_value(self, data: Any) -> str | int:
        if isinstance(data, str) and 0 < len(data) <= 255 and "\x00" not in data:
            return data
        if isinstance(data, int) and not isinstance(data, bool) and 1 <= data <= 2**63 - 1:
            return data
        self.fail("invalid")
        raise AssertionError  # fail() raises

    def to_representation(self, value: Any) -> Any:
        return value


class SimulateSerializer(StrictSerializer):
    subject_type = StrictCharField(
        max_length=201, required=False, help_text='"app_label.model", one of FLOWR["SUBJECT_MODELS"]'
    )
    subject_id = StrictCharField(max_length=255, required=False)
    choices = serializers.ListField(
        child=ChoiceItemField(),
        required=False,
        max_length=SIMULATE_MAX_STEPS,
        help_text="The children to take in order (rule labels, class names or node ids); then the first allowed one.",
    )
    explore = StrictBooleanField(
        required=False, default=False, help_text="Walk every branch (choices are ignored), each edge once per path."
    )
    max_steps = StrictIntegerField(
        required=False, default=100, min_value=0, max_value=SIMULATE_MAX_STEPS, help_text="Transitions per path."
    )
    stop_after_choices = StrictBooleanField(
        required=False,
        default=False,
        help_text="Stop once every choice is taken (after the timers due by now at that node), "
        'outcome "choices", instead of going on with the first allowed child. Ignored with explore.',
    )
    now = serializers.DateTimeField(
        required=False,
        help_text="Fast-forward to this time (ISO 8601; without an offset, in the site's time zone): "
        "at each node the timers due by then fire, in simulated time. Not with explore.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        refusal = simulator.now_refusal(attrs.get("now"), attrs.get("explore", False))
        if refusal is not None:
            raise serializers.ValidationError({"now": [refusal]})
        return with_subject(attrs, self.context)


class SimulatedNodeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    rule_label = serializers.CharField()
    rule_name = serializers.CharField()


class ChildVerdictSerializer(serializers.Serializer):
    node = SimulatedNodeSerializer()
    allowed = serializers.BooleanField()
    reason = serializers.CharField(allow_null=True)
    code = serializers.CharField(allow_null=True)


class CallbackCallSerializer(serializers.Serializer):
    rule_label = serializers.CharField()
    hook = serializers.ChoiceField(choices=["on_enter", "on_leave"])
    outcome = serializers.ChoiceField(choices=["ran", "skipped", "raised"])


class SimulationErrorSerializer(serializers.Serializer):
    type = serializers.CharField()
    code = serializers.CharField(allow_null=True)
    message = serializers.CharField()
    callbacks = CallbackCallSerializer(many=True)


class SimulatedStepSerializer(serializers.Serializer):
    node = SimulatedNodeSerializer()
    callbacks = CallbackCallSerializer(many=True)
    children = ChildVerdictSerializer(many=True)
    taken = serializers.IntegerField(allow_null=True)
    error = SimulationErrorSerializer(allow_null=True)
    reached = serializers.BooleanField()
    timers = serializers.ListField(
        child=serializers.CharField(), help_text="The timers fired here (fast-forward), in order."
    )


class SimulatedPathSerializer(serializers.Serializer):
    steps = SimulatedStepSerializer(many=True)
    outcome = serializers.ChoiceField(choices=["end", "blocked", "loop", "max_steps", "error", "choices"])


class SimulationReportSerializer(serializers.Serializer):
    """What ``POST /flows/{id}/simulate/`` answers (:class:`flowr.simulator.SimulationReport`)."""

    flow = serializers.IntegerField()
    flow_name = serializers.CharField()
    subject = serializers.CharField(allow_null=True)
    explore = serializers.BooleanField()
    max_steps = serializers.IntegerField()
    paths = SimulatedPathSerializer(many=True)
    ends_reached = SimulatedNodeSerializer(many=True)
    unreached = SimulatedNodeSerializer(many=True)
    truncated = serializers.BooleanField()
