"""flowr's models and the 0.2 public names, importable from here."""

from flowr.models.edit_log import FlowEdit
from flowr.models.flows import Flow, FlowNodeData, RuleSet
from flowr.models.graph import BaseNodeData, DCCGraph, Edge, Node
from flowr.models.states import State, StateHistory
from flowr.rules import Rule

__all__ = [
    "BaseNodeData",
    "DCCGraph",
    "Edge",
    "Flow",
    "FlowEdit",
    "FlowNodeData",
    "Node",
    "Rule",
    "RuleSet",
    "State",
    "StateHistory",
]
