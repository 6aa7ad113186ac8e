"""Running instances of flows, and their history.

A transition is atomic: the lock, the re-check, the guards, ``on_leave``,
``on_enter``, the state change and the history row commit together or not at
all.  Race safety works in two layers:

* where the database can, the State's row is locked (``SELECT ... FOR UPDATE
  NOWAIT``) and re-checked: a transition applies only from the node (and
  version) the caller's object saw;
* always, the final ``UPDATE`` is a compare-and-set on ``version``, and the
  history row's ``(state, seq)`` is unique, which covers SQLite.

The loser of a race gets :class:`~flowr.exceptions.ConcurrentTransition` and
changes nothing; ``refresh_from_db()`` and retry.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import DatabaseError, IntegrityError, OperationalError, models, router, transaction
from django.db.models import F
from django.utils import timezone

from flowr import rules as rule_registry
from flowr import signals
from flowr.exceptions import (
    ChoiceNotInFlow,
    ChoiceRequired,
    ConcurrentTransition,
    NoNextState,
    ReentrantTransition,
    TransitionLockTimeout,
    TransitionRefused,
)
from flowr.models.flows import Flow, FlowNodeData

if TYPE_CHECKING:
    from flowr.rules import Rule

_moving = threading.local()


@contextmanager
def _guard_reentry(pk: int | None) -> Iterator[None]:
    active: set[Any] = getattr(_moving, "pks", None) or set()
    _moving.pks = active
    if pk is not None and pk in active:
        raise ReentrantTransition(
            f"State {pk} is already in a transition: a callback cannot move its own State", state_pk=pk
        )
    if pk is not None:
        active.add(pk)
    try:
        yield
    finally:
        active.discard(pk)


class _LockFailed(Exception):
    pass


def _is_lock_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return (
        any(
            key in text
            for key in ("database is locked", "could not obtain lock", "lock wait timeout", "nowait", "lock_timeout")
        )
        or getattr(exc, "pgcode", None) == "55P03"
        or getattr(getattr(exc, "__cause__", None), "sqlstate", None) == "55P03"
    )


class StateQuerySet(models.QuerySet["State"]):
    def for_subject(self, subject: models.Model) -> StateQuerySet:
        """States whose subject is ``subject``."""
        return self.filter(subject_content_type=ContentType.objects.get_for_model(subject), subject_id=str(subject.pk))


def _veto(result: bool | str | None, default: str) -> str | None:
    if result is True or result is None:
        return None
    if isinstance(result, str):
        return result or default
    return None if result else default


class State(models.Model):
    """One running instance of a :class:`Flow`."""

    flow = models.ForeignKey(Flow, on_delete=models.PROTECT, related_name="states")
    current_node = models.ForeignKey(FlowNodeData, on_delete=models.PROTECT, related_name="states")
    version = models.PositiveIntegerField(default=0, editable=False)
    subject_content_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    subject_id = models.CharField(max_length=255, blank=True, default="")
    subject = GenericForeignKey("subject_content_type", "subject_id")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = StateQuerySet.as_manager()

    class Meta:
        ordering = ["-updated", "-pk"]
        indexes = [models.Index(fields=["subject_content_type", "subject_id"], name="flowr_state_subject")]

    def __str__(self) -> str:
        return f"State(id={self.pk} flow={self.flow_id} node={self.current_node_id})"

    # -- reading -----------------------------------------------------------
    @property
    def history(self) -> models.QuerySet[StateHistory]:
        """Every start and transition of this State, oldest first."""
        return self.history_rows.order_by("seq")

    @property
    def is_finished(self) -> bool:
        """True when the current node has no children."""
        return not Edge_exists(self.current_node.node_id)

    def next_nodes(self) -> list[FlowNodeData]:
        return self.current_node.children_data()

    def allowed_next_rules(self) -> list[type[Rule]]:
        """The rules ``next_state`` would accept now (guards consulted)."""
        current_rule = self.current_node.rule
        if _veto(current_rule.can_leave(self), "") is not None:
            return []
        allowed = []
        for data in self.next_nodes():
            rule = rule_registry.get_rule(data.rule_label)
            if rule is not None and _veto(rule.can_enter(self), "") is None:
                allowed.append(rule)
        return allowed

    # -- moving ------------------------------------------------------------
    @classmethod
    def start(cls, flow: Flow, *, subject: models.Model | None = None, actor: Any = None) -> State:
        """Create a State at the flow's root and call the root's ``on_enter``.

        If a guard or ``on_enter`` raises, no State exists afterwards.
        """
        root = flow.root_data
        rule = root.rule
        state = cls(flow=flow, current_node=root)
        if subject is not None:
            state.subject = subject
        db = router.db_for_write(cls)
        with transaction.atomic(using=db):
            state.save(force_insert=True)
            with _guard_reentry(state.pk):
                reason = _veto(rule.can_enter(state), f"Rule {rule.name} refused entry")
                if reason is not None:
                    raise TransitionRefused(reason, state=state, rule=rule)
                signals.pre_transition.send(
                    sender=cls, state=state, from_node=None, to_node=root, rule=rule, actor=actor
                )
                rule.on_enter(state)
                row = StateHistory.record(state, 1, None, root, actor, kind=StateHistory.START)
                signals.post_transition.send(
                    sender=cls, state=state, from_node=None, to_node=root, rule=rule, actor=actor, history=row
                )
            _on_commit(state, None, root, rule, actor, row, db)
        return state

    def next_state(self, rule: type[Rule] | str | None = None, *, actor: Any = None) -> State:
        """Move to the next node.

        One child: take it.  Several: ``rule`` picks one.  None: refused.
        :raises NoNextState, ChoiceRequired, ChoiceNotInFlow,
            TransitionRefused, ConcurrentTransition, ReentrantTransition:
        """
        db = router.db_for_write(type(self))
        try:
            with _guard_reentry(self.pk), transaction.atomic(using=db):
                return self._transition(rule, actor, db)
        except _LockFailed as exc:
            raise self._lost(exc.__cause__) from exc.__cause__
        except OperationalError as exc:
            if _is_lock_error(exc):
                raise self._lost(exc) from exc
            raise

    def _lost(self, exc: BaseException | None) -> ConcurrentTransition:
        if exc is not None and "locked" in str(exc).lower() and "could not" not in str(exc).lower():
            return TransitionLockTimeout(f"State {self.pk} stayed locked by another transaction; try again", state=self)
        return ConcurrentTransition(
            f"State {self.pk} is being moved by another transaction; refresh it and try again", state=self
        )

    def _transition(self, choice: type[Rule] | str | None, actor: Any, db: str) -> State:
        seen_node, seen_version = self.current_node_id, self.version
        connection = transaction.get_connection(db)
        query = State.objects.using(db).filter(pk=self.pk)
        if connection.features.has_select_for_update:
            nowait = connection.features.has_select_for_update_nowait
            try:
                row = query.select_for_update(nowait=nowait).values_list("current_node_id", "version").first()
            except DatabaseError as exc:
                raise _LockFailed() from exc
        else:
            row = query.values_list("current_node_id", "version").first()
        if row != (seen_node, seen_version):
            raise ConcurrentTransition(
                f"State {self.pk} moved since it was loaded (now at node {row[0] if row else None}); "
                "refresh it and try again",
                state=self,
            )
        current = self.current_node
        current_rule = current.rule
        children = list(
            FlowNodeData.objects.using(db)
            .filter(node__in_edges__source_id=current.node_id)
            .values_list("pk", "node_id", "rule_label")
        )
        target = self._choose(current, current_rule, children, choice)
        next_rule = rule_registry.resolve(target[2])
        reason = _veto(current_rule.can_leave(self), f"Rule {current_rule.name} refused to be left")
        if reason is None:
            reason = _veto(next_rule.can_enter(self), f"Rule {next_rule.name} refused entry")
        if reason is not None:
            raise TransitionRefused(reason, state=self, rule=next_rule)
        to_node = FlowNodeData(pk=target[0], node_id=target[1], rule_label=target[2])
        to_node._state.adding, to_node._state.db = False, db
        signals.pre_transition.send(
            sender=State, state=self, from_node=current, to_node=to_node, rule=next_rule, actor=actor
        )
        current_rule.on_leave(self)
        next_rule.on_enter(self)
        now = timezone.now()
        updated = (
            State.objects.using(db)
            .filter(pk=self.pk, version=seen_version, current_node_id=seen_node)
            .update(current_node_id=to_node.pk, version=F("version") + 1, updated=now)
        )
        if updated != 1:
            raise ConcurrentTransition(f"State {self.pk} moved during the transition; try again", state=self)
        self.current_node = to_node
        self.version = seen_version + 1
        self.updated = now
        try:
            row = StateHistory.record(self, self.version + 1, current, to_node, actor)
        except IntegrityError as exc:
            raise ConcurrentTransition(f"State {self.pk} moved during the transition", state=self) from exc
        signals.post_transition.send(
            sender=State, state=self, from_node=current, to_node=to_node, rule=next_rule, actor=actor, history=row
        )
        _on_commit(self, current, to_node, next_rule, actor, row, db)
        return self

    def _choose(
        self,
        current: FlowNodeData,
        current_rule: type[Rule],
        children: list[tuple[int, int, str]],
        choice: type[Rule] | str | None,
    ) -> tuple[int, int, str]:
        if not children:
            raise NoNextState(
                f"No next state: node {current.node_id} ({current_rule.name}) of flow {self.flow_id} has no children",
                state=self,
                node=current,
            )
        if choice is None:
            if len(children) == 1:
                return children[0]
            raise ChoiceRequired(
                f"Rule {current_rule.name} branches here ({len(children)} children): choose the next rule",
                state=self,
                node=current,
            )
        label = rule_registry.label_of(choice) if not isinstance(choice, str) else choice
        for child in children:
            if child[2] == label:
                return child
        raise ChoiceNotInFlow(
            f"Rule {rule_registry.short_name(label)} is not a child of node {current.node_id} "
            f"({current_rule.name}) in this flow",
            state=self,
            node=current,
        )


def Edge_exists(node_id: int) -> bool:
    from flowr.models.graph import Edge

    return Edge.objects.filter(source_id=node_id).exists()


def _on_commit(
    state: State, from_node: FlowNodeData | None, to_node: FlowNodeData, rule: Any, actor: Any, row: Any, db: str
) -> None:
    if not signals.transition_committed.has_listeners(State):
        return

    def send() -> None:
        signals.transition_committed.send(
            sender=State, state=state, from_node=from_node, to_node=to_node, rule=rule, actor=actor, history=row
        )

    transaction.on_commit(send, using=db)


class StateHistory(models.Model):
    """One start, transition or migration of a State.

    Rule labels and names are copied as they were, so history stays readable
    after rules are renamed or nodes deleted.
    """

    START, TRANSITION, MIGRATION = "start", "transition", "migration"
    KINDS = [(START, "start"), (TRANSITION, "transition"), (MIGRATION, "migration")]

    state = models.ForeignKey(State, on_delete=models.CASCADE, related_name="history_rows")
    seq = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=KINDS, default=TRANSITION)
    from_node = models.ForeignKey(FlowNodeData, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    to_node = models.ForeignKey(FlowNodeData, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    from_rule_label = models.CharField(max_length=255, blank=True, default="")
    from_rule_name = models.CharField(max_length=255, blank=True, default="")
    to_rule_label = models.CharField(max_length=255)
    to_rule_name = models.CharField(max_length=255)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_repr = models.CharField(max_length=255, blank=True, default="")
    note = models.TextField(blank=True, default="")
    created = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name_plural = "state history"
        ordering = ["state", "seq"]
        constraints = [models.UniqueConstraint(fields=["state", "seq"], name="flowr_history_state_seq")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.from_rule_name or '-'} -> {self.to_rule_name}"

    @classmethod
    def record(
        cls,
        state: State,
        seq: int,
        from_node: FlowNodeData | None,
        to_node: FlowNodeData,
        actor: Any,
        kind: str = TRANSITION,
        note: str = "",
    ) -> StateHistory:
        user = actor if isinstance(actor, models.Model) and getattr(actor, "is_authenticated", False) else None
        return cls.objects.create(
            state=state,
            seq=seq,
            kind=kind,
            from_node=from_node,
            to_node=to_node,
            from_rule_label=from_node.rule_label if from_node else "",
            from_rule_name=from_node.rule_name if from_node else "",
            to_rule_label=to_node.rule_label,
            to_rule_name=to_node.rule_name,
            actor=user,
            actor_repr="" if actor is None else str(actor)[:255],
            note=note,
        )
