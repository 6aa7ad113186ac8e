"""Signals sent around starts and transitions of a State.

All three are sent with ``sender=State`` and these keyword arguments:

* ``state`` -- the :class:`~flowr.models.State` (during ``pre_transition``
  still at the node being left; afterwards at the new node);
* ``from_node`` -- the :class:`~flowr.models.FlowNodeData` left, ``None``
  for a start;
* ``to_node`` -- the :class:`~flowr.models.FlowNodeData` entered;
* ``rule`` -- the Rule class entered;
* ``actor`` -- what the caller passed as ``actor`` (``None`` if nothing);
* ``history`` -- the :class:`~flowr.models.StateHistory` row written
  (``post_transition`` and ``transition_committed`` only).

When to use which:

* ``pre_transition`` -- inside the transaction, after the lock, the re-check
  and the guards, before ``on_leave``/``on_enter``.  Raising cancels the
  transition (the exception propagates, nothing is written).  Use it for
  last-moment vetoes that need the database.
* ``post_transition`` -- inside the transaction, after the state change and
  the history row.  Raising still rolls everything back.  Use it for database
  writes that must commit together with the transition (audit rows,
  counters).  Never send e-mail or queue jobs here: the transaction can still
  roll back (also the caller's outer transaction, after ``next_state`` has
  returned).
* ``transition_committed`` -- after the outermost transaction commits
  (``transaction.on_commit``); never for a transition that was rolled back.
  Use it for side effects outside the database (e-mail, queues, webhooks).
  Receivers are called robustly: one that raises is logged on the ``flowr``
  logger and neither stops the others nor makes the committed transition
  look failed.

A jump (:meth:`State.jump_to <flowr.models.State.jump_to>`) sends the
same three signals as a transition (``rule`` is the rule jumped to; the
history row's ``kind`` is ``"jump"``).  A cancel
(:meth:`State.cancel <flowr.models.State.cancel>`) sends none of them:
``state_cancelled`` is sent after the outermost transaction commits, with
``state``, ``actor`` and ``history`` (the ``"cancel"`` row), robustly like
``transition_committed``.

``timer_fired`` is sent, with ``sender=State``, when a reminder fires
(:mod:`flowr.timers`; the State does not move), right after the rule's
``on_timer``, inside the firing transaction (raising rolls the reminder
back: it fires again at the next call), with ``state``, ``rule`` (the
Rule class of the node, ``None`` when missing) and ``timer`` (a
:class:`flowr.timers.Timer`).

A receiver (or a rule callback) must not move the State being moved: that
raises :class:`~flowr.exceptions.ReentrantTransition`.  From
``transition_committed`` it may: the transition is over by then.
"""

from __future__ import annotations

from django.dispatch import Signal

pre_transition = Signal()
post_transition = Signal()
transition_committed = Signal()
state_cancelled = Signal()
timer_fired = Signal()
