"""flowr's admin: build flows, inspect and move States, without code.

Rule sets, flows, States and their history, graph nodes and node data.  A
flow's change page shows its nodes as an indented tree with the forms that
edit it (add a child, connect, remove, prune); every graph edit and every
transition is a POST, and every refusal from the model layer is shown as a
message and changes nothing.  Changelists read a constant number of queries
whatever the number of rows.

``FlowrSubjectAdminMixin`` puts an object's States (and buttons to move
them) on the change page of any of your own models.

Importing this package registers the ModelAdmins (Django's admin autodiscovery
imports it); the names below stay importable from ``flowr.admin``.
"""

from __future__ import annotations

from flowr.admin.common import (
    CSS,
    ReadOnlyAdmin,
    admin_url,
    can_clone,
    count_of,
    export_module,
    json_download,
    reverse_or_none,
)
from flowr.admin.flows import FlowAdmin
from flowr.admin.nodes import DCCGraphAdmin, FlowFilter, FlowNodeDataAdmin, NodeAdmin, NodeFlowFilter
from flowr.admin.rule_sets import RuleSetAdmin
from flowr.admin.states import StateAdmin, StateHistoryAdmin, StateHistoryInline, subject_display
from flowr.admin.subjects import FlowrFlowFilter, FlowrRuleFilter, FlowrSubjectAdminMixin
from flowr.admin.tree import TreeRow, build_tree

__all__ = [
    "CSS",
    "DCCGraphAdmin",
    "FlowAdmin",
    "FlowFilter",
    "FlowNodeDataAdmin",
    "FlowrFlowFilter",
    "FlowrRuleFilter",
    "FlowrSubjectAdminMixin",
    "NodeAdmin",
    "NodeFlowFilter",
    "ReadOnlyAdmin",
    "RuleSetAdmin",
    "StateAdmin",
    "StateHistoryAdmin",
    "StateHistoryInline",
    "TreeRow",
    "admin_url",
    "build_tree",
    "can_clone",
    "count_of",
    "export_module",
    "json_download",
    "reverse_or_none",
    "subject_display",
]
