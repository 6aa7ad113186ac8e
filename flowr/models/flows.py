"""Rule sets, flows and the data of a flow's nodes."""

from __future__ import annotations

import json
import uuid
from typing import Any, cast

from django.db import models, transaction
from django.db.models import F
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from flowr import edits, governance, nodesettings, policy
from flowr import rules as rule_registry
from flowr.exceptions import (
    FlowInUse,
    MissingRule,
)
from flowr.models.graph import BaseNodeData, DCCGraph, Edge, Node
from flowr.nodesettings import NodeSettings
from flowr.rules import Rule


class RuleSet(models.Model):
    """A named set of rules: the root rule and every rule reachable from it."""

    name = models.CharField(_("name"), max_length=100)
    root_rule_label = models.CharField(_("root rule"), max_length=255)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("rule set")
        verbose_name_plural = _("rule sets")
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def factory(cls, name: str, root_rule: type[Rule] | str) -> RuleSet:
        """Create a rule set whose flows start with ``root_rule``."""
        return cls.objects.create(name=name, root_rule_label=rule_registry.label_of(root_rule))

    @property
    def rule_missing(self) -> bool:
        return rule_registry.get_rule(self.root_rule_label) is None

    @property
    def root_rule(self) -> type[Rule]:
        """The root Rule class; raises :class:`MissingRule` if it is gone."""
        found = rule_registry.get_rule(self.root_rule_label)
        if found is None:
            raise MissingRule(
                gettext("Rule set %(name)r: root rule %(label)r does not resolve")
                % {"name": self.name, "label": self.root_rule_label},
                label=self.root_rule_label,
                rule_set=self,
            )
        return found

    @property
    def root_rule_name(self) -> str:
        found = rule_registry.get_rule(self.root_rule_label)
        return found.name if found else rule_registry.short_name(self.root_rule_label)

    @property
    def root_rule_verbose_name(self) -> str:
        return rule_registry.verbose_name_of(self.root_rule_label)

    def rules(self) -> list[type[Rule]]:
        """Every rule reachable from the root rule (root first)."""
        return list(policy.rule_graph(self.root_rule_label).rules)

    def cytoscape_json(self) -> str:
        """The rule graph as cytoscape.js elements (0.2's format)."""
        elements = policy.rule_graph_elements(self.root_rule_label, ids="name")
        for element in elements["nodes"]:
            element["data"] = {"id": element["data"]["id"], "label": element["data"]["label"]}
        return json.dumps(elements)


class FlowQuerySet(models.QuerySet["Flow"]):
    """``Flow.objects``: flows, and the current version of a family."""

    def current(self, family: Any) -> Flow | None:
        """The published version of ``family`` (a family UUID, or any flow
        of the family), None when none is published.  Versions of one flow
        share ``family`` (``clone()`` keeps it and numbers the copy
        ``version + 1``); publishing one retires the one published before."""
        key = family.family if isinstance(family, Flow) else family
        return self.filter(family=key, status=policy.PUBLISHED).order_by("-version", "-pk").first()


class Flow(models.Model):
    """A state machine built from a rule set, stored as a graph.

    A flow that States use is *frozen*: every edit of its graph is refused
    with :class:`FlowFrozen`.  Deleting a flow deletes its graph.
    """

    name = models.CharField(_("name"), max_length=100)
    rule_set = models.ForeignKey(RuleSet, on_delete=models.PROTECT, related_name="flows", verbose_name=_("rule set"))
    state_graph = models.OneToOneField(DCCGraph, on_delete=models.PROTECT, related_name="flow")
    family = models.UUIDField(default=uuid.uuid4, editable=False)  # indexed by the unique (family, version)
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)
    # the edit counter: +1 per applied edit (undo and redo too); see FlowEdit
    revision = models.PositiveIntegerField(_("revision"), default=0, editable=False)
    # changed only through flowr.governance.change_status (publish() and the like)
    status = models.CharField(
        _("status"), max_length=16, choices=policy.STATUS_CHOICES, default=policy.DRAFT, editable=False
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    objects = FlowQuerySet.as_manager()

    class Meta:
        verbose_name = _("flow")
        verbose_name_plural = _("flows")
        ordering = ["name", "version", "pk"]
        constraints = [models.UniqueConstraint(fields=["family", "version"], name="flowr_flow_family_version")]
        permissions = [("publish_flow", _("Can publish flow"))]

    def __str__(self) -> str:
        if self.version == 1:
            return self.name
        return gettext("%(name)s (v%(version)s)") % {"name": self.name, "version": self.version}

    @classmethod
    def factory(cls, name: str, rule_set: RuleSet) -> Flow:
        """Create a flow whose graph holds one node: the rule set's root."""
        root_rule = rule_set.root_rule
        with transaction.atomic():
            graph = DCCGraph.factory(FlowNodeData, rule_label=root_rule.class_label)
            flow = cls.objects.create(name=name, rule_set=rule_set, state_graph=graph)
            edits.log_created(flow, f"create flow {name!r}")
            return flow

    @property
    def root_data(self) -> FlowNodeData:
        """The data of the flow's root node."""
        data = FlowNodeData.objects.select_related("node").get(
            node__graph_id=self.state_graph_id, node__graph__root=F("node_id")
        )
        data._flow_cache = self
        return data

    def in_use(self) -> bool:
        """True when any running (not cancelled) State uses this flow (it is then frozen)."""
        return self.states.running().exists()

    def state_count(self) -> int:
        """How many running (not cancelled) States use this flow."""
        return self.states.running().count()

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        count = self.states.count()
        if count:
            text = ngettext(
                "Flow %(name)r cannot be deleted: %(count)s state uses it",
                "Flow %(name)r cannot be deleted: %(count)s states use it",
                count,
            )
            raise FlowInUse(text % {"name": self.name, "count": count}, flow=self, count=count)
        return super().delete(*args, **kwargs)

    def nodes_data(self) -> list[FlowNodeData]:
        """Every node's data, in tree order, with nodes attached (2 queries)."""
        graph = self.state_graph
        nodes = graph.load_nodes()
        result = []
        for node in nodes:
            data = cast(FlowNodeData, node._data_cache)
            data._flow_cache = self
            result.append(data)
        return result

    # -- status (implemented in flowr.governance) -----------------------------
    def submit_for_review(self, actor: Any = None) -> governance.StatusChanged:
        """draft -> in review."""
        return governance.change_status(self, "submit_for_review", actor)

    def publish(self, actor: Any = None) -> governance.StatusChanged:
        """draft, in review or retired -> published; retires the family's
        version published before (four-eyes when ``FLOWR["FOUR_EYES_PUBLISH"]``)."""
        return governance.change_status(self, "publish", actor)

    def retire(self, actor: Any = None) -> governance.StatusChanged:
        """published -> retired; its running States keep running."""
        return governance.change_status(self, "retire", actor)

    def back_to_draft(self, actor: Any = None) -> governance.StatusChanged:
        """in review, published or retired -> draft."""
        return governance.change_status(self, "back_to_draft", actor)

    # -- lifecycle (implemented in flowr.versions) ----------------------------
    def clone(self, name: str | None = None) -> Flow:
        """An editable copy: the next version of this flow's family.

        Same rule set, same graph shape and node data, no States; built in a
        constant number of queries.  ``name`` defaults to this flow's name.
        """
        return edits.clone_flow(self, name=name)

    def versions(self) -> models.QuerySet[Flow]:
        """Every flow of this flow's family (this one included), oldest first."""
        return Flow.objects.filter(family=self.family).order_by("version", "pk")

    @classmethod
    def factory_from_rules(cls, name: str, rule_set: RuleSet, children: Any) -> Flow:
        """Create a flow from 0.2's nested ``(kwargs, children)`` structure.

        ``children`` is the list of the root's children; each item is a pair
        ``(kwargs, children)`` where ``kwargs["rule"]`` names the node's rule
        (a Rule class or label), e.g. ``[({"rule": C}, [({"rule": D}, [])])]``
        under a root of rule ``A``.  Every node is added with
        :meth:`FlowNodeData.add_child_rule`, so the rules are enforced and the
        whole flow is created or nothing (one transaction).
        """
        return edits.build_from_rules(cls, name, rule_set, children)


@receiver(post_delete, sender=Flow)
def _delete_graph_with_flow(sender: type[Flow], instance: Flow, **kwargs: Any) -> None:
    DCCGraph.objects.filter(pk=instance.state_graph_id).delete()


class FlowNodeData(BaseNodeData):
    """The data of one node of a flow: which rule the node stands for."""

    rule_label = models.CharField(_("rule label"), max_length=255)
    # the values of the rule's Settings form (JSON; see flowr.nodesettings),
    # written only through the edit service (set_settings)
    settings = models.JSONField(_("settings"), default=dict, blank=True)
    _flow_cache: Flow  # set by whoever loaded it with its flow (not a field)

    class Meta:
        verbose_name = _("flow node")
        verbose_name_plural = _("flow nodes")

    def __str__(self) -> str:
        """``#<node id> <rule verbose name>``, as the admin names a node."""
        return f"#{self.node_id} {self.rule_verbose_name}"

    # -- the rule ----------------------------------------------------------
    @property
    def rule_missing(self) -> bool:
        return rule_registry.get_rule(self.rule_label) is None

    @property
    def rule(self) -> type[Rule]:
        """The node's Rule class; raises :class:`MissingRule` if it is gone."""
        found = rule_registry.get_rule(self.rule_label)
        if found is None:
            raise MissingRule(
                gettext("Node %(node)s: rule %(label)r does not resolve")
                % {"node": self.node_id, "label": self.rule_label},
                label=self.rule_label,
                node=self,
            )
        return found

    @property
    def rule_name(self) -> str:
        """The rule's class name (what history rows store)."""
        found = rule_registry.get_rule(self.rule_label)
        return found.name if found else rule_registry.short_name(self.rule_label)

    @property
    def rule_verbose_name(self) -> str:
        """The rule's verbose name in the active language (the class-name part
        of the label when the rule is missing): what people see."""
        return rule_registry.verbose_name_of(self.rule_label)

    @property
    def data(self) -> FlowNodeData:
        """This object itself: 0.2's ``State.current_node`` was a Node, so
        0.2 code reads ``state.current_node.data.rule``."""
        return self

    @property
    def flow(self) -> Flow:
        cached = getattr(self, "_flow_cache", None)
        if cached is None:
            cached = Flow.objects.get(state_graph__nodes__pk=self.node_id)
            self._flow_cache = cached
        return cached

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        """Delete the node's data; refused while States are at this node."""
        count = self.states.count()
        if count:
            raise FlowInUse(
                ngettext(
                    "Node %(node)s (%(rule)s) cannot be deleted: %(count)s state is at it",
                    "Node %(node)s (%(rule)s) cannot be deleted: %(count)s states are at it",
                    count,
                )
                % {"node": self.node_id, "rule": self.rule_verbose_name, "count": count},
                node=self,
                count=count,
            )
        return super().delete(*args, **kwargs)

    # -- settings ----------------------------------------------------------
    @property
    def settings_form(self) -> type[NodeSettings] | None:
        """The rule's ``Settings`` form (None: the rule has none or is missing)."""
        return policy.settings_form(self.rule_label)

    @property
    def typed_settings(self) -> dict[str, Any]:
        """The stored settings as guards and callbacks read them
        (``state.settings``): cleaned, typed values, without a query (model
        choices load when first used).  Cached on this object."""
        key = repr(self.settings)
        cached = self.__dict__.get("_typed_settings")
        if cached is None or cached[0] != key:
            values = nodesettings.typed(self.settings_form, self.settings, self.rule_verbose_name)
            cached = self.__dict__["_typed_settings"] = (key, values)
        return cached[1]

    def set_settings(self, values: dict[str, Any], *, partial: bool = False) -> None:
        """Store ``values`` as this node's settings, validated by the rule's
        ``Settings`` form (``partial``: merged into the stored ones); refused
        with :class:`~flowr.exceptions.InvalidSettings` (nothing written) or
        on a frozen flow.  Logged, undoable."""
        edits.set_settings(self, values, partial=partial)

    # -- neighbours --------------------------------------------------------
    def children_data(self) -> list[FlowNodeData]:
        """The data of this node's children (one query)."""
        return list(FlowNodeData.objects.filter(node__in_edges__source_id=self.node_id).order_by("node_id"))

    def parents_data(self) -> list[FlowNodeData]:
        return list(FlowNodeData.objects.filter(node__out_edges__target_id=self.node_id).order_by("node_id"))

    def max_children(self) -> int:
        return policy.max_children(self.rule)

    def _child_labels(self) -> list[str]:
        return list(
            Edge.objects.filter(source_id=self.node_id).values_list("target__flownodedata__rule_label", flat=True)
        )

    def child_refusal(self, rule: type[Rule] | str, existing: list[str] | None = None) -> Exception | None:
        """Why ``rule`` cannot be a (new) child here, or None if it can
        (the policy's answer; ``existing``: the children's labels)."""
        labels = self._child_labels() if existing is None else existing
        return policy.child_refusal(self.rule_label, rule, len(labels), set(labels), node_id=self.node_id, node=self)

    def allowed_child_rules(self) -> list[type[Rule]]:
        """Rules that could be added as a child here now (empty if full)."""
        return list(policy.child_options(self.rule_label, self._child_labels()).allowed)

    # -- 0.2 edits ---------------------------------------------------------
    def add_child_rule(self, rule: type[Rule] | str) -> FlowNodeData:
        """Add a new node with ``rule`` as a child of this one."""
        return edits.add_child_rule(self, rule).data

    def connect_child(self, flow_node_data: FlowNodeData) -> None:
        """Add an edge from this node to an existing node of the same flow."""
        edits.connect_child(self, flow_node_data)

    def disconnect_child(self, flow_node_data: FlowNodeData) -> None:
        """Delete the edge from this node to ``flow_node_data`` (refused when
        it would cut a node off from the root)."""
        edits.disconnect(self.node, flow_node_data.node)

    def insert_between(self, child: FlowNodeData, rule: type[Rule] | str) -> FlowNodeData:
        """Put a new node of ``rule`` between this node and its child ``child``."""
        return edits.insert(self, child, rule).data

    def change_rule(self, rule: type[Rule] | str) -> None:
        """Give this node the rule ``rule`` (allowed after every parent, allowing every child)."""
        edits.change_rule(self, rule)

    def _node(self) -> Node:
        return self.node
