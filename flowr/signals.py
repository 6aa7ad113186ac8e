"""Signals sent around transitions.

All three are sent with ``sender=State`` and the keyword arguments ``state``,
``from_node`` (``None`` for a start), ``to_node``, ``rule`` (the Rule class
entered) and ``actor``; ``post_transition`` and ``transition_committed`` also
send ``history`` (the :class:`~flowr.models.StateHistory` row).

* ``pre_transition`` -- inside the transaction, after the lock and the guards,
  before ``on_leave``/``on_enter``.  Raising here cancels the transition.
* ``post_transition`` -- inside the transaction, after the state change and
  the history row.  Raising here still rolls everything back; use it for
  database writes that must commit with the transition.
* ``transition_committed`` -- after the transaction commits
  (``transaction.on_commit``).  Use it for side effects outside the
  database (e-mail, queues, webhooks): it never fires for a transition that
  was rolled back.
"""

from django.dispatch import Signal

pre_transition = Signal()
post_transition = Signal()
transition_committed = Signal()
