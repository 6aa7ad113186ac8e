"""Rules of the permission, actor-aware guard and note tests (the ``tests``
package is an installed app, so they resolve).

``Desk`` branches into four rules, one per way of being refused:
``Approve`` needs a permission string, ``Reject`` a callable permission,
``Hold`` has a guard taking the actor, ``Park`` a 0.2-style guard (the
State alone).  ``Split`` has two children both called ``Review``.
"""

from __future__ import annotations

from typing import Any

from flowr.rules import Rule

APPROVE_PERMISSION = "testapp.change_ticket"

#: what the guards saw: (rule name, guard, actor) -- reset by the tests
seen: list[tuple[str, str, Any]] = []


def reviewers_only(state: Any, actor: Any) -> bool | str:
    """Reject's permission: users whose name starts with "rev"."""
    seen.append(("Reject", "permission", actor))
    return True if str(getattr(actor, "username", "")).startswith("rev") else "Only reviewers may reject."


class Desk(Rule):
    multiple_paths = True
    children = [
        "tests.permission_rules.Approve",
        "tests.permission_rules.Reject",
        "tests.permission_rules.Hold",
        "tests.permission_rules.Park",
    ]


class Approve(Rule):
    permission = APPROVE_PERMISSION
    children = [Desk]


class Reject(Rule):
    permission = reviewers_only
    children = [Desk]


class Hold(Rule):
    """Its guards take the actor: nobody may hold for the user "intern"."""

    children = [Desk]

    @classmethod
    def can_enter(cls, state: Any, actor: Any) -> bool | str:
        seen.append(("Hold", "can_enter", actor))
        return "Interns may not hold." if getattr(actor, "username", None) == "intern" else True

    @classmethod
    def can_leave(cls, state: Any, actor: Any = None) -> bool:
        seen.append(("Hold", "can_leave", actor))
        return True


class Park(Rule):
    """0.2-style guards: the State alone."""

    children = [Desk]

    @classmethod
    def can_enter(cls, state: Any) -> bool:
        seen.append(("Park", "can_enter", None))
        return True


class Gate(Rule):
    """A root only users with the permission may start."""

    permission = APPROVE_PERMISSION
    children = [Approve]


class Review(Rule):
    pass


class Other:
    class Review(Rule):
        """Another rule called Review (label ``tests.permission_rules.Other.Review``)."""


class Split(Rule):
    multiple_paths = True
    children = [Review, Other.Review]


Desk.children = [*Desk.children, Split]
