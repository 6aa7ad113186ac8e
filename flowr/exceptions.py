"""Every refusal flowr makes, one class each.

All of them derive from :class:`FlowrError`, which is itself an
:class:`AttributeError`: django-flowr 0.2 raised ``AttributeError`` for every
refusal, and code written for 0.2 that catches it keeps working.  Each class
carries a stable ``code`` (used by the REST API) and the objects involved.
"""

from __future__ import annotations

from typing import Any, ClassVar


class FlowrError(AttributeError):
    """Base class of every flowr refusal.

    The objects involved are attributes (None when not given): the ``node``
    (a FlowNodeData or Node) and its ``target``, a ``source``, the ``rule`` or ``label``,
    the ``flow`` or ``rule_set``, the ``state`` (or ``state_pk``), a ``count``
    of States, the ``guard`` and its ``reason``, a ``report`` or ``problems``, the offending ``value``.
    """

    code: ClassVar[str] = "flowr_error"
    default_message: ClassVar[str] = "The operation was refused."

    def __init__(
        self,
        message: str | None = None,
        *,
        node: Any = None,
        source: Any = None,
        target: Any = None,
        rule: Any = None,
        label: str | None = None,
        flow: Any = None,
        rule_set: Any = None,
        state: Any = None,
        state_pk: Any = None,
        count: int | None = None,
        guard: str | None = None,
        reason: str | None = None,
        report: Any = None,
        problems: Any = None,
        data_class: Any = None,
        value: Any = None,
    ) -> None:
        self.message: str = message or self.default_message
        self.node = node
        self.source = source
        self.target = target
        self.rule = rule
        self.label = label
        self.flow = flow
        self.rule_set = rule_set
        self.state = state
        self.state_pk = state_pk
        self.count = count
        self.guard = guard
        self.reason = reason
        self.report = report
        self.problems = problems
        self.data_class = data_class
        self.value = value
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class RuleNotAllowed(FlowrError):
    """The rule may not follow the rule of this node."""

    code: ClassVar[str] = "rule_not_allowed"


class TooManyChildren(FlowrError):
    """The node already has as many children as its rule allows."""

    code: ClassVar[str] = "too_many_children"


class DuplicateChildRule(FlowrError):
    """The node already has a child with this rule."""

    code: ClassVar[str] = "duplicate_child_rule"


class NoNextState(FlowrError):
    """The current node has no children: the flow ends here."""

    code: ClassVar[str] = "no_next_state"


class ChoiceRequired(FlowrError):
    """The current node branches and no rule was chosen."""

    code: ClassVar[str] = "choice_required"


class ChoiceNotInFlow(FlowrError):
    """The chosen rule is not a child of the current node."""

    code: ClassVar[str] = "choice_not_in_flow"


class CannotRemove(FlowrError):
    """Removing the node would disconnect the graph (or it is the root)."""

    code: ClassVar[str] = "cannot_remove"


class CannotDisconnect(FlowrError):
    """Deleting the link would cut a node off from the root."""

    code: ClassVar[str] = "cannot_disconnect"


class NotAChild(FlowrError):
    """The node is not a child of the other node (no such link)."""

    code: ClassVar[str] = "not_a_child"


class NothingToUndo(FlowrError):
    """The flow's edit log has no edit left to undo."""

    code: ClassVar[str] = "nothing_to_undo"


class NothingToRedo(FlowrError):
    """No undone edit may be re-applied (none, or an edit since cleared them)."""

    code: ClassVar[str] = "nothing_to_redo"


class DifferentGraphs(FlowrError):
    """The two nodes belong to different graphs."""

    code: ClassVar[str] = "different_graphs"


class InvalidDataClass(FlowrError):
    """The data class is not a concrete BaseNodeData subclass."""

    code: ClassVar[str] = "invalid_data_class"


class FlowFrozen(FlowrError):
    """The flow has States and can no longer be edited; clone it."""

    code: ClassVar[str] = "flow_frozen"


class FlowInUse(FlowrError):
    """The flow (or node) is used by States and cannot be deleted."""

    code: ClassVar[str] = "flow_in_use"


class ConcurrentEdit(FlowrError):
    """Another edit of the flow removed a node this edit needs; reload."""

    code: ClassVar[str] = "concurrent_edit"


class ConcurrentTransition(FlowrError):
    """Another transition changed the State since this object was loaded."""

    code: ClassVar[str] = "concurrent_transition"


class TransitionLockTimeout(ConcurrentTransition):
    """The State's row stayed locked by another transaction too long."""

    code: ClassVar[str] = "lock_timeout"


class ReentrantTransition(FlowrError):
    """A callback tried to move the State that is already moving."""

    code: ClassVar[str] = "reentrant_transition"


class TransitionRefused(FlowrError):
    """A guard (``can_enter`` / ``can_leave``) vetoed the transition."""

    code: ClassVar[str] = "transition_refused"


class TransitionForbidden(TransitionRefused):
    """The actor may not take the rule: its ``permission`` refused
    (``guard`` is ``"permission"``; the REST API answers 403)."""

    code: ClassVar[str] = "permission_denied"


class AmbiguousRule(ChoiceNotInFlow):
    """A rule was chosen by its class name, which several children share."""

    code: ClassVar[str] = "ambiguous_rule"


class InvalidTransitionData(FlowrError):
    """A transition's note is not a string, or its data is not JSON."""

    code: ClassVar[str] = "invalid_transition_data"


class MissingRule(FlowrError):
    """A stored rule label no longer resolves to a Rule class."""

    code: ClassVar[str] = "missing_rule"


class InvalidRule(FlowrError):
    """The object given is not a Rule class (or label) flowr knows."""

    code: ClassVar[str] = "invalid_rule"


class MappingIncomplete(FlowrError):
    """Running States could not be mapped onto the target flow."""

    code: ClassVar[str] = "mapping_incomplete"


class StateCancelled(FlowrError):
    """The State was cancelled: it takes no more transitions, jumps or cancels."""

    code: ClassVar[str] = "state_cancelled"


class MoveNotPermitted(FlowrError):
    """The actor lacks the permission a jump or a cancel needs
    (``flowr.jump_state`` / ``flowr.cancel_state``)."""

    code: ClassVar[str] = "move_not_permitted"


class NodeNotInFlow(FlowrError):
    """A jump's target is not a node (or node data) of the State's flow."""

    code: ClassVar[str] = "node_not_in_flow"


class StatusChangeNotAllowed(FlowrError):
    """The flow's status does not allow this change (e.g. retiring a draft)."""

    code: ClassVar[str] = "status_change_not_allowed"


class PublishNotPermitted(FlowrError):
    """Four-eyes publishing: the actor lacks ``flowr.publish_flow`` or made
    the flow's last edit (the REST API answers 403)."""

    code: ClassVar[str] = "publish_not_permitted"


class FlowNotPublished(FlowrError):
    """``FLOWR["ONLY_PUBLISHED_START"]`` is on and the flow is not published."""

    code: ClassVar[str] = "flow_not_published"


class InvalidSettings(FlowrError):
    """Node settings the rule's ``Settings`` form refuses; ``problems`` maps
    each field (``__all__`` for the whole form) to its messages."""

    code: ClassVar[str] = "invalid_settings"
