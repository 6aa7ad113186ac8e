"""Every refusal flowr makes, one class each.

All of them derive from :class:`FlowrError`, which is itself an
:class:`AttributeError`: django-flowr 0.2 raised ``AttributeError`` for every
refusal, and code written for 0.2 that catches it keeps working.  Each class
carries a stable ``code`` (used by the REST API) and the objects involved.
"""

from __future__ import annotations

from typing import Any


class FlowrError(AttributeError):
    """Base class of every flowr refusal."""

    code = "flowr_error"
    default_message = "The operation was refused."

    def __init__(self, message: str | None = None, **context: Any) -> None:
        self.message = message or self.default_message
        self.context = context
        for key, value in context.items():
            setattr(self, key, value)
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class RuleNotAllowed(FlowrError):
    """The rule may not follow the rule of this node."""

    code = "rule_not_allowed"


class TooManyChildren(FlowrError):
    """The node already has as many children as its rule allows."""

    code = "too_many_children"


class DuplicateChildRule(FlowrError):
    """The node already has a child with this rule."""

    code = "duplicate_child_rule"


class NoNextState(FlowrError):
    """The current node has no children: the flow ends here."""

    code = "no_next_state"


class ChoiceRequired(FlowrError):
    """The current node branches and no rule was chosen."""

    code = "choice_required"


class ChoiceNotInFlow(FlowrError):
    """The chosen rule is not a child of the current node."""

    code = "choice_not_in_flow"


class CannotRemove(FlowrError):
    """Removing the node would disconnect the graph (or it is the root)."""

    code = "cannot_remove"


class DifferentGraphs(FlowrError):
    """The two nodes belong to different graphs."""

    code = "different_graphs"


class InvalidDataClass(FlowrError):
    """The data class is not a concrete BaseNodeData subclass."""

    code = "invalid_data_class"


class FlowFrozen(FlowrError):
    """The flow has States and can no longer be edited; clone it."""

    code = "flow_frozen"


class FlowInUse(FlowrError):
    """The flow (or node) is used by States and cannot be deleted."""

    code = "flow_in_use"


class ConcurrentTransition(FlowrError):
    """Another transition changed the State since this object was loaded."""

    code = "concurrent_transition"


class TransitionLockTimeout(ConcurrentTransition):
    """The State's row stayed locked by another transaction too long."""

    code = "lock_timeout"


class ReentrantTransition(FlowrError):
    """A callback tried to move the State that is already moving."""

    code = "reentrant_transition"


class TransitionRefused(FlowrError):
    """A guard (``can_enter`` / ``can_leave``) vetoed the transition."""

    code = "transition_refused"


class MissingRule(FlowrError):
    """A stored rule label no longer resolves to a Rule class."""

    code = "missing_rule"


class InvalidRule(FlowrError):
    """The object given is not a Rule class (or label) flowr knows."""

    code = "invalid_rule"


class MappingIncomplete(FlowrError):
    """Running States could not be mapped onto the target flow."""

    code = "mapping_incomplete"
