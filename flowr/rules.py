"""Rule classes: the code half of a state machine.

A programmer subclasses :class:`Rule`; the database only ever stores a rule's
dotted label (``module.ClassName``).  Labels are resolved through a registry
that the :class:`RuleMeta` metaclass fills as classes are defined.  A label is
resolved only to a registered Rule subclass whose module belongs to an
installed Django app: database content never triggers an import.

A class that sets ``abstract = True`` in its own body (not inherited) is a
base for other rules, never a rule itself: it is registered, but no
resolution (:func:`get_rule`, :func:`resolve`, :func:`label_of`,
:func:`child_rules`, :func:`all_rules`) ever returns it, so no surface
offers or accepts it as a root or child rule.

Every rule has a readable, translatable :attr:`Rule.verbose_name`: the one
set in the class body (usually ``gettext_lazy("...")``), or else one derived
once from the class name (``WaitingOnCustomer`` -> "Waiting on customer",
``HTTPCheck`` -> "HTTP check").  People see it; the database keeps storing
the dotted label.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeGuard, cast

from django.apps import apps
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy

from flowr.exceptions import InvalidRule, MissingRule

if TYPE_CHECKING:
    from django.http import HttpRequest

    from flowr.models import FlowNodeData, State
    from flowr.nodesettings import NodeSettings
    from flowr.timers import Timer

_registry: dict[str, type[Rule]] = {}

# a run of capitals not followed by a lower-case letter (an acronym), a word, or digits
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def derive_verbose_name(class_name: str) -> str:
    """A readable name from a class name: words split at capitals, digits and
    underscores; the first word capitalised, the others lower case; acronyms
    (two capitals or more) kept as they are.

    ``WaitingOnCustomer`` -> "Waiting on customer", ``HTTPCheck`` -> "HTTP
    check", ``SendSMSReminder`` -> "Send SMS reminder", ``Step2`` -> "Step 2".
    A name that is not an identifier (a class made with ``type()``) is kept as it is.
    """
    if not class_name.isidentifier():
        return class_name
    words = _WORD.findall(class_name) or [class_name]
    shown = [w if len(w) > 1 and w.isupper() else w.lower() for w in words]
    first = shown[0]
    shown[0] = first[:1].upper() + first[1:]
    return " ".join(shown)


class RuleMeta(type):
    """Registers every Rule subclass under its dotted label and gives it a
    :attr:`~Rule.verbose_name` when its body sets none."""

    def __new__(mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any]) -> RuleMeta:
        if "verbose_name" not in namespace:
            # derived once per class (never inherited: a subclass is another rule); still looked up in the
            # translation catalogs, so a project may translate a derived name in its own .po file
            namespace["verbose_name"] = gettext_lazy(derive_verbose_name(name))
        cls = super().__new__(mcs, name, bases, namespace)
        if bases:  # the base Rule class itself is not a usable rule
            # every class with bases made by RuleMeta is a Rule subclass (only Rule uses it)
            _registry[f"{cls.__module__}.{cls.__qualname__}"] = cast("type[Rule]", cls)
        return cls

    @property
    def class_label(cls) -> str:
        """The dotted label stored in the database: ``module.ClassName``."""
        return f"{cls.__module__}.{cls.__qualname__}"

    @property
    def name(cls) -> str:
        """The class name, as 0.2 showed it (read-only: a ``name`` set in a
        rule's body is refused by the system check flowr.E005; people see
        :attr:`~Rule.verbose_name`)."""
        return cls.__name__


class Rule(metaclass=RuleMeta):
    """Base class of the rules a flow is built from.

    Class attributes:

    * ``children`` -- the rules that may follow this one: Rule classes or
      dotted label strings (for forward references); may be reassigned after
      the class is created to make cycles.
    * ``multiple_paths`` -- a node with this rule may have several children
      (one per allowed rule): the State chooses which one to take.
    * ``has_edit_screen`` -- :meth:`edit_screen` renders a custom screen.
    * ``abstract`` -- ``True`` in a class's own body makes it a base for other
      rules, never offered nor accepted as a rule (subclasses are not abstract
      unless they say so too).
    * ``verbose_name`` -- the name people see (admin, editor, API, diagrams,
      history): set it in the class body, usually with ``gettext_lazy``;
      otherwise it is derived from the class name (not inherited).  ``name``
      stays the class name; a rule may not set it (check flowr.E005).
    * ``permission`` -- who may take a transition into this rule: ``None``
      (anyone the surface lets advance), a permission string
      ``"app_label.codename"`` (``actor.has_perm()``), or a callable
      ``(state, actor) -> bool | str`` (``False`` or a reason string
      refuses).  Not checked when the actor is None (trusted code); see
      :mod:`flowr.guards`.
    * ``simulation_safe`` -- ``False`` when ``on_enter``/``on_leave`` act
      outside the database (e-mail, HTTP, files): the simulator
      (:func:`flowr.simulate`) then skips them and reports it.  Guards are
      always run: they must not act outside the database.
    * ``Settings`` -- a :class:`flowr.NodeSettings` form: what people
      configure per node (see :mod:`flowr.nodesettings`).
    * ``timeout_targets`` -- the children a timer may move a State to: each
      node of the rule then has the settings ``timeout_after`` and
      ``timeout_rule`` (see :mod:`flowr.timers`).
    * ``reminders`` -- ``True``: each node of the rule has the setting
      ``remind_after``; a State that waits that long there gets one
      :meth:`on_timer` call (and a ``timer_fired`` signal) per entry,
      without moving.
    * ``timeout_from`` -- the name of a method of the State's subject that
      returns when the timeout is due (an aware datetime, or None: no
      timer); it replaces ``timeout_after`` for States with such a subject.

    ``can_enter`` and ``can_leave`` may take the actor as a second argument
    (``def can_enter(cls, state, actor)``); guards taking the State alone
    keep working.
    """

    verbose_name: str | Promise  # set by RuleMeta when the body does not
    children: list[type[Rule] | str] = []
    multiple_paths: bool = False
    has_edit_screen: bool = False
    permission: ClassVar[str | Callable[[State, Any], bool | str | None] | None] = None
    simulation_safe: ClassVar[bool] = True
    #: the node settings people configure per node (a :class:`flowr.NodeSettings`
    #: form); guards and callbacks read them as ``state.settings``
    Settings: ClassVar[type[NodeSettings] | None] = None
    #: the children a timeout may take (Rule classes or labels): the rule's
    #: node settings then have ``timeout_after`` and ``timeout_rule``
    timeout_targets: ClassVar[list[type[Rule] | str]] = []
    #: True: the rule's node settings have ``remind_after`` (a reminder that
    #: calls :meth:`on_timer` once per entry, without moving the State)
    reminders: ClassVar[bool] = False
    #: the name of a method of the State's subject returning the timeout's
    #: due time (or None: no timer) in place of entry + ``timeout_after``
    timeout_from: ClassVar[str | None] = None

    @classmethod
    def on_enter(cls, state: State) -> None:
        """Called when a State enters a node with this rule."""

    @classmethod
    def on_timer(cls, state: State, timer: Timer) -> None:
        """Called when a reminder of a State at a node with this rule fires
        (``timer.kind == "reminder"``); the State does not move.  Runs in
        the firing transaction: raising rolls the reminder back (it fires
        again at the next call)."""

    @classmethod
    def on_leave(cls, state: State) -> None:
        """Called when a State leaves a node with this rule."""

    @classmethod
    def can_enter(cls, state: State) -> bool | str | None:
        """Guard: return ``False`` or a reason string to veto entering."""
        return True

    @classmethod
    def can_leave(cls, state: State) -> bool | str | None:
        """Guard: return ``False`` or a reason string to veto leaving."""
        return True

    @classmethod
    def edit_screen(cls, request: HttpRequest | None, flow_node_data: FlowNodeData | None) -> str:
        """Return the HTML of this rule's custom edit screen."""
        raise NotImplementedError(f"{cls.__name__} has no edit screen")

    @classmethod
    def child_rules(cls) -> list[type[Rule]]:
        """The allowed child rules: ``children`` resolved; entries that do not
        resolve are left out (see :mod:`flowr.policy`)."""
        return list(child_rules(cls))

    @classmethod
    def child_labels(cls) -> list[str]:
        """The labels of ``children``, without resolving anything."""
        return [c if isinstance(c, str) else getattr(c, "class_label", repr(c)) for c in cls.children]


def is_abstract(cls: type) -> bool:
    """True when ``cls`` sets ``abstract = True`` in its own body (inheriting it does not count)."""
    return cls.__dict__.get("abstract") is True


def is_rule_class(obj: object) -> TypeGuard[type[Rule]]:
    """A Rule subclass usable as a rule: not :class:`Rule` itself, not abstract."""
    return isinstance(obj, type) and issubclass(obj, Rule) and obj is not Rule and not is_abstract(obj)


def child_rules(rule: type[Rule]) -> tuple[type[Rule], ...]:
    """The allowed child rules of ``rule``: its ``children`` resolved, in
    order, without repeats; entries that do not resolve (or are not Rules)
    are left out.  The only child resolver: every surface reaches it
    through :mod:`flowr.policy`."""
    found: dict[str, type[Rule]] = {}
    for child in rule.children:
        resolved = get_rule(child) if isinstance(child, str) else child
        if is_rule_class(resolved):
            found.setdefault(resolved.class_label, resolved)
    return tuple(found.values())


def timeout_target_rules(rule: type[Rule]) -> tuple[type[Rule], ...]:
    """The rule's ``timeout_targets`` that resolve and are among its
    children (the others are reported by check flowr.E011)."""
    children = {child.class_label for child in child_rules(rule)}
    found: dict[str, type[Rule]] = {}
    for entry in getattr(rule, "timeout_targets", ()):
        resolved = get_rule(entry) if isinstance(entry, str) else entry
        if is_rule_class(resolved) and resolved.class_label in children:
            found.setdefault(resolved.class_label, resolved)
    return tuple(found.values())


# module -> "is in an installed app": asked for every label resolved (a
# graph of 10,000 nodes asks 10,000 times), answered by a walk over the app
# configs; kept until INSTALLED_APPS changes (override_settings in tests).
_module_installed: dict[str, bool] = {}


def _in_installed_app(cls: type) -> bool:
    module = cls.__module__
    found = _module_installed.get(module)
    if found is None:
        found = apps.get_containing_app_config(module) is not None
        if apps.ready:
            _module_installed[module] = found
    return found


@receiver(setting_changed)
def _forget_installed_modules(*, setting: str, **kwargs: Any) -> None:
    if setting == "INSTALLED_APPS":
        _module_installed.clear()


def get_rule(label: str) -> type[Rule] | None:
    """Resolve a stored label to its Rule class, or None.

    Only classes already defined (registered by the metaclass) in a module of
    an installed app resolve; nothing is imported.
    """
    cls = _registry.get(label)
    if cls is None or is_abstract(cls) or not _in_installed_app(cls):
        return None
    return cls


def label_of(rule: type[Rule] | str) -> str:
    """The label of a Rule class or of a label string (validated, as :func:`resolve`)."""
    if isinstance(rule, str):
        resolve(rule)
        return rule
    return resolve(rule).class_label


def resolve(rule: type[Rule] | str) -> type[Rule]:
    """A Rule class from a class or a label; raises MissingRule/InvalidRule (abstract rules too)."""
    if isinstance(rule, str):
        found = get_rule(rule)
        if found is None:
            registered = _registry.get(rule)
            if registered is not None and is_abstract(registered) and _in_installed_app(registered):
                raise InvalidRule(f"{rule!r} is an abstract rule, a base for other rules", rule=registered)
            raise MissingRule(f"No rule is registered under {rule!r}", label=rule)
        return found
    if is_rule_class(rule):
        return rule
    if isinstance(rule, type) and issubclass(rule, Rule) and is_abstract(rule):
        raise InvalidRule(f"{rule.class_label!r} is an abstract rule, a base for other rules", rule=rule)
    raise InvalidRule(f"{rule!r} is not a Rule class", rule=rule)


def all_rules() -> list[type[Rule]]:
    """Every resolvable Rule class (abstract ones left out), sorted by label."""
    return [cls for label, cls in sorted(_registry.items()) if not is_abstract(cls) and _in_installed_app(cls)]


def rules_reachable_from(root: type[Rule]) -> list[type[Rule]]:
    """The rule graph from ``root``: root first, breadth first, no repeats."""
    seen: dict[str, type[Rule]] = {root.class_label: root}
    queue: list[type[Rule]] = [root]
    for current in queue:  # grows while walked: breadth first
        for child in child_rules(current):
            if child.class_label not in seen:
                seen[child.class_label] = child
                queue.append(child)
    return list(seen.values())


def short_name(label: str) -> str:
    """The class-name part of a dotted label (for missing rules)."""
    return label.rsplit(".", 1)[-1]


def verbose_name_of(label: str) -> str:
    """The verbose name of a stored label in the active language, or the
    class-name part of the label when it does not resolve (a missing rule)."""
    found = get_rule(label)
    return str(found.verbose_name) if found is not None else short_name(label)


def rules_defining_name() -> list[type[Rule]]:
    """Registered rules (abstract ones too) that set ``name`` in their own body:
    ``Rule.name`` is the class name, so such a ``name`` would be ignored."""
    return [cls for _, cls in sorted(_registry.items()) if "name" in cls.__dict__]
