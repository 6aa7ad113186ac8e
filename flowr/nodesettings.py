"""Typed node settings: what a rule lets the people who build flows configure per node.

A rule declares ``class Settings(flowr.NodeSettings)``: a Django form.  The
values are stored per node as JSON (``FlowNodeData.settings``) and go
through this module both ways:

* :func:`clean` -- what a surface was given (JSON values) to what is stored
  (JSON values), or every problem by field: the one answer every surface
  (model, admin, editor, API, import) gives;
* :func:`typed` -- what is stored to the values guards and callbacks read as
  ``state.settings`` (a ``timedelta`` for a ``DurationField``, a lazy model
  instance for a ``ModelChoiceField``...), without a query;
* :func:`schema` -- the form as a JSON Schema (the API, the editor's panel).

Stored values are plain JSON: a model by its primary key (a list of them
for a multiple choice), a duration as an ISO 8601 string, a decimal, date
or time as a string.  ``Settings.upgrade(data)`` migrates values stored by
an older form before they are validated or read.
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar, cast

from django import forms
from django.core.exceptions import ValidationError
from django.forms.utils import pretty_name
from django.utils.dateparse import parse_duration
from django.utils.duration import duration_iso_string
from django.utils.functional import SimpleLazyObject
from django.utils.module_loading import import_string
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _lazy

from flowr.conf import settings as flowr_settings
from flowr.exceptions import InvalidSettings

if TYPE_CHECKING:
    from flowr.rules import Rule

Problems = dict[str, list[str]]


class NodeSettings(forms.Form):
    """Base class of a rule's ``Settings`` form.

    Declare fields as in any Django form; flowr stores the cleaned values as
    JSON and derives a JSON Schema from the fields.  Override
    :meth:`upgrade` to migrate values stored by an older version of the form.
    """

    #: the form's fields (set by Django's form metaclass)
    base_fields: ClassVar[dict[str, forms.Field]]

    @classmethod
    def upgrade(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Values stored by an older form, as this form takes them (called
        before every validation and read; the default returns ``data``)."""
        return data


def upgraded(form_class: type[NodeSettings], data: dict[str, Any]) -> dict[str, Any]:
    """``form_class.upgrade(data)`` on a copy; an upgrade that returns no
    dict is the rule's bug, refused with :class:`InvalidSettings`."""
    found = form_class.upgrade(dict(data))
    if not isinstance(found, dict):
        text = gettext("%(form)s.upgrade() returned %(type)s, not a dict.") % {
            "form": form_class.__qualname__,
            "type": type(found).__name__,
        }
        raise InvalidSettings(text, problems={"__all__": [text]})
    return found


def form_of(rule: type[Rule] | None) -> type[NodeSettings] | None:
    """The rule's ``Settings`` form, or None when it declares none.  A rule
    with ``timeout_targets`` gets its form (or an empty one) with the timer
    fields ``timeout_after`` and ``timeout_rule`` added (:func:`timer_form`);
    one with ``reminders = True`` gets ``remind_after`` (:func:`reminder_form`)."""
    found = getattr(rule, "Settings", None)
    declared = found if isinstance(found, type) and issubclass(found, NodeSettings) else None
    if rule is not None and getattr(rule, "timeout_targets", None):
        declared = timer_form(rule, declared or NodeSettings)
    if rule is not None and getattr(rule, "reminders", False):
        declared = reminder_form(declared or NodeSettings)
    return declared


# -- timers (issue 17) -------------------------------------------------------------

TIMER_FIELDS = ("timeout_after", "timeout_rule")

#: the longest timeout or reminder (100 years): a longer one would take the
#: due time past what a datetime holds
MAX_TIMER = datetime.timedelta(days=36525)


def _too_long() -> str:
    return gettext("A timer may not be longer than %(days)s days.") % {"days": MAX_TIMER.days}


class _TimerFields(NodeSettings):
    """The timer fields a rule with ``timeout_targets`` adds to its settings."""

    timeout_after = forms.DurationField(
        required=False,
        label=_lazy("Timeout after"),
        help_text=_lazy("How long a State may wait here before the timeout moves it (seconds or ISO 8601)."),
    )

    def clean(self) -> dict[str, Any] | None:
        data = super().clean()
        cleaned = self.cleaned_data
        after, target = cleaned.get("timeout_after"), cleaned.get("timeout_rule")
        if after is not None and after <= datetime.timedelta(0):
            self.add_error("timeout_after", gettext("A timeout must be longer than zero."))
        elif after is not None and after > MAX_TIMER:
            self.add_error("timeout_after", _too_long())
        elif after is not None and not target and "timeout_rule" not in self.errors:
            self.add_error("timeout_rule", gettext("Choose the rule the timeout moves the State to."))
        return data


_timer_forms: dict[tuple[Any, ...], type[NodeSettings]] = {}


def timer_form(rule: type[Rule], base: type[NodeSettings]) -> type[NodeSettings]:
    """``base`` with the timer fields: ``timeout_after`` (a duration, empty:
    no timer) and ``timeout_rule`` (one of the rule's ``timeout_targets`` that
    is one of its children).  Cached per rule, targets and base."""
    from flowr.rules import timeout_target_rules

    targets = timeout_target_rules(rule)
    key = (rule, base, tuple(t.class_label for t in targets))
    found = _timer_forms.get(key)
    if found is None:
        choices = [(t.class_label, str(t.verbose_name)) for t in targets]
        field = forms.ChoiceField(
            choices=[("", "---------"), *choices],
            required=False,
            initial=choices[0][0] if len(choices) == 1 else None,
            label=_lazy("Timeout rule"),
            help_text=_lazy("Where the timeout moves the State."),
        )
        attrs = {"timeout_rule": field, "__module__": base.__module__, "__qualname__": base.__qualname__}
        found = _timer_forms[key] = cast("type[NodeSettings]", type(base.__name__, (_TimerFields, base), attrs))
    return found


class _ReminderFields(NodeSettings):
    """The reminder field a rule with ``reminders = True`` adds to its settings."""

    remind_after = forms.DurationField(
        required=False,
        label=_lazy("Remind after"),
        help_text=_lazy(
            "How long a State may wait here before its rule is reminded, once, without moving it (seconds or ISO 8601)."
        ),
    )

    def clean(self) -> dict[str, Any] | None:
        data = super().clean()
        after = self.cleaned_data.get("remind_after")
        if after is not None and after <= datetime.timedelta(0):
            self.add_error("remind_after", gettext("A reminder must come later than zero."))
        elif after is not None and after > MAX_TIMER:
            self.add_error("remind_after", _too_long())
        return data


_reminder_forms: dict[type[NodeSettings], type[NodeSettings]] = {}


def reminder_form(base: type[NodeSettings]) -> type[NodeSettings]:
    """``base`` with the field ``remind_after`` (a duration, empty: no
    reminder).  Cached per base."""
    found = _reminder_forms.get(base)
    if found is None:
        attrs = {"__module__": base.__module__, "__qualname__": base.__qualname__}
        found = _reminder_forms[base] = cast("type[NodeSettings]", type(base.__name__, (_ReminderFields, base), attrs))
    return found


def reminder_of(stored: dict[str, Any] | None) -> datetime.timedelta | None:
    """The reminder delay of a node's stored settings, or None (no query)."""
    after = stored.get("remind_after") if stored else None
    if not after or not isinstance(after, str):
        return None
    return parse_duration(after) or None


def timer_of(stored: dict[str, Any] | None) -> tuple[datetime.timedelta, str] | None:
    """The delay and target rule label of a node's stored settings, or None
    when it has no timer (no query, no form: a transition asks it)."""
    if not stored:
        return None
    after, target = stored.get("timeout_after"), stored.get("timeout_rule")
    if not after or not target or not isinstance(after, str):
        return None
    delay = parse_duration(after)
    return (delay, target) if delay else None


def calendar() -> Callable[[datetime.datetime, datetime.timedelta], datetime.datetime] | None:
    """The callable ``FLOWR["TIMER_CALENDAR"]`` names, or None (the default:
    plain addition); imported once per path (no query).

    :raises ImportError: the path does not import (system check flowr.E012)
    """
    path = flowr_settings.TIMER_CALENDAR
    if not path:
        return None
    if path not in _CALENDARS:
        _CALENDARS[path] = import_string(path)
    return _CALENDARS[path]


_CALENDARS: dict[str, Callable[[datetime.datetime, datetime.timedelta], datetime.datetime]] = {}


def due_time(start: datetime.datetime, delay: datetime.timedelta) -> datetime.datetime:
    """When a timer of ``delay`` started at ``start`` is due: the one place
    every timer (entering a node, a reminder's rescheduling, the simulator's
    fast-forward) computes it, through ``FLOWR["TIMER_CALENDAR"]``."""
    counted = calendar()
    return start + delay if counted is None else counted(start, delay)


# -- stored JSON <-> Python values ----------------------------------------------------


def _to_json(field: forms.Field, value: Any) -> Any:
    """A cleaned value as it is stored."""
    if value is None:
        return None
    if isinstance(field, forms.ModelMultipleChoiceField):
        return sorted(obj.pk for obj in value)
    if isinstance(field, forms.ModelChoiceField):
        return value.pk
    if isinstance(value, datetime.timedelta):
        return duration_iso_string(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (list, tuple, set)):
        return [_to_json(forms.Field(), v) for v in value]
    return value


# JSON types a field takes (a string for everything typed as text in JSON)
_NUMBER = (int, float)


def _json_type_problem(field: forms.Field, value: Any) -> str | None:
    """Why the JSON ``value`` has the wrong type for ``field`` (before the
    form sees it: a form would turn a list into its ``str()``), or None."""
    if value is None:
        return None
    if isinstance(field, (forms.ModelMultipleChoiceField, forms.MultipleChoiceField)):
        ok = isinstance(value, list) and all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value)
        return None if ok else gettext("Enter a list of values.")
    if isinstance(field, forms.BooleanField):
        return None if isinstance(value, bool) else gettext("Enter true or false.")
    if isinstance(value, bool) or isinstance(value, (list, dict)):
        return gettext("Enter a single value, not %(type)s.") % {"type": type(value).__name__}
    if isinstance(field, (forms.IntegerField, forms.DecimalField, forms.FloatField, forms.DurationField)):
        return None if isinstance(value, (*_NUMBER, str)) else gettext("Enter a number.")
    return None if isinstance(value, (str, int, float)) else gettext("Enter a text.")


def _form_value(field: forms.Field, value: Any) -> Any:
    if isinstance(field, forms.DurationField) and isinstance(value, _NUMBER):
        return str(value)  # seconds: Django parses "3600" as an hour
    return value


def clean(form_class: type[NodeSettings], data: Any) -> tuple[dict[str, Any], Problems]:
    """``data`` (JSON values by field name) validated by the form, after
    :meth:`~NodeSettings.upgrade` (a field not given takes its ``initial``):
    the values to store and no problems, or every problem by field
    (``__all__``: the whole form)."""
    if not isinstance(data, dict):
        return {}, {"__all__": [gettext("Settings must be a JSON object.")]}
    try:
        data = upgraded(form_class, data)
    except InvalidSettings as exc:
        return {}, exc.problems
    fields = form_class.base_fields
    problems: Problems = {}
    for key in data:
        if key not in fields:
            problems[str(key)] = [gettext("Unknown setting %(name)r.") % {"name": key}]
        elif (problem := _json_type_problem(fields[key], data[key])) is not None:
            problems[key] = [problem]
    if problems:
        return {}, problems
    for name, field in fields.items():  # a value not given is the field's initial, as typed() reads it
        initial = field.initial() if callable(field.initial) else field.initial
        if name not in data and initial is not None:
            data[name] = _to_json(field, initial)
    form = form_class(data={key: _form_value(fields[key], value) for key, value in data.items() if value is not None})
    if not form.is_valid():
        return {}, {key: [str(m) for m in messages] for key, messages in form.errors.items()}
    return stored_values(form), {}


def stored_values(form: NodeSettings) -> dict[str, Any]:
    """A valid bound form's cleaned values as they are stored (JSON)."""
    return {name: _to_json(form.fields[name], form.cleaned_data.get(name)) for name in form.fields}


def checked(form_class: type[NodeSettings] | None, data: Any, label: str) -> dict[str, Any]:
    """:func:`clean`'s values, or :class:`InvalidSettings` with every problem
    (a rule without a form takes only ``{}``)."""
    if form_class is None:
        if data in ({}, None):
            return {}
        problems: Problems = {"__all__": [gettext("Rule %(rule)s has no settings.") % {"rule": label}]}
    else:
        values, problems = clean(form_class, data)
        if not problems:
            return values
    first = next(iter(problems.items()))
    text = gettext("Invalid settings: %(field)s: %(message)s") % {"field": first[0], "message": first[1][0]}
    raise InvalidSettings(text, problems=problems, label=label)


def _typed_value(field: forms.Field, value: Any) -> Any:
    if isinstance(field, forms.ModelChoiceField):  # ModelMultipleChoiceField too
        queryset = field.queryset
        assert queryset is not None  # a model choice field has one
        if isinstance(field, forms.ModelMultipleChoiceField):
            return queryset.filter(pk__in=value or [])  # lazy: no query until read
        if value is None:
            return None
        return SimpleLazyObject(lambda: queryset.get(pk=value))
    if value is None:
        return field.to_python(None) if not isinstance(field, forms.BooleanField) else False
    return field.clean(_form_value(field, value))


def typed(form_class: type[NodeSettings] | None, stored: dict[str, Any] | None, label: str = "") -> dict[str, Any]:
    """The stored values as guards and callbacks read them (no query: model
    choices are lazy).  A field not stored takes its ``initial``; a value the
    form now refuses raises :class:`InvalidSettings` (``manage.py check``
    warns about them: flowr.W004)."""
    if form_class is None:
        return dict(stored or {})
    data = upgraded(form_class, stored or {})
    values: dict[str, Any] = {}
    problems: Problems = {}
    for name, field in form_class.base_fields.items():
        if name not in data:
            initial = field.initial() if callable(field.initial) else field.initial
            values[name] = _typed_value(field, _to_json(field, initial)) if initial is not None else None
            continue
        try:
            values[name] = _typed_value(field, data[name])
        except (ValidationError, TypeError, ValueError) as exc:
            messages = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
            problems[name] = [str(m) for m in messages]
    if problems:
        first = next(iter(problems.items()))
        text = gettext("Stored settings refused by rule %(rule)s: %(field)s: %(message)s") % {
            "rule": label,
            "field": first[0],
            "message": first[1][0],
        }
        raise InvalidSettings(text, problems=problems, label=label)
    return values


def stored_problems(form_class: type[NodeSettings] | None, stored: dict[str, Any] | None) -> Problems:
    """What the current form refuses in stored settings (after upgrade);
    empty settings are not configured yet and have none."""
    if not stored:
        return {}
    if form_class is None:
        return {"__all__": [gettext("the rule has no settings")]}
    return clean(form_class, stored)[1]


# -- the JSON Schema ----------------------------------------------------------------


def _choices(field: forms.ChoiceField) -> list[tuple[Any, str]]:
    found = []
    for value, label in cast("Iterable[tuple[Any, Any]]", field.choices):
        if isinstance(label, (list, tuple)):  # an optgroup
            found += [(v, str(lab)) for v, lab in label]
        elif value not in ("", None):
            found.append((value.value if hasattr(value, "value") else value, str(label)))
    return found


def _field_schema(field: forms.Field) -> dict[str, Any]:
    prop: dict[str, Any] = {}
    if isinstance(field, forms.ModelMultipleChoiceField):
        choices = _choices(field)
        prop = {"type": "array", "items": {"enum": [v for v, _ in choices]}, "uniqueItems": True}
        prop["x-choices"] = [{"value": v, "label": lab} for v, lab in choices]
    elif isinstance(field, forms.MultipleChoiceField):
        choices = _choices(field)
        prop = {"type": "array", "items": {"enum": [v for v, _ in choices]}, "uniqueItems": True}
        prop["x-choices"] = [{"value": v, "label": lab} for v, lab in choices]
    elif isinstance(field, forms.ChoiceField):  # ModelChoiceField is one too
        choices = _choices(field)
        prop = {"enum": [v for v, _ in choices], "x-choices": [{"value": v, "label": lab} for v, lab in choices]}
    elif isinstance(field, forms.BooleanField):
        prop = {"type": "boolean"}
    elif isinstance(field, forms.DecimalField):  # before IntegerField: Django derives both from it
        prop = {"type": ["string", "number"], "format": "decimal"}
    elif isinstance(field, forms.FloatField):
        prop = {"type": "number"}
    elif isinstance(field, forms.IntegerField):
        prop = {"type": "integer"}
        for key, attr in (("minimum", "min_value"), ("maximum", "max_value")):
            if getattr(field, attr, None) is not None:
                prop[key] = getattr(field, attr)
    elif isinstance(field, forms.DurationField):
        prop = {"type": ["string", "number"], "format": "duration"}
    elif isinstance(field, forms.EmailField):
        prop = {"type": "string", "format": "email"}
    elif isinstance(field, forms.URLField):
        prop = {"type": "string", "format": "uri"}
    elif isinstance(field, forms.DateTimeField):
        prop = {"type": "string", "format": "date-time"}
    elif isinstance(field, forms.DateField):
        prop = {"type": "string", "format": "date"}
    elif isinstance(field, forms.TimeField):
        prop = {"type": "string", "format": "time"}
    else:
        prop = {"type": "string"}
        max_length = getattr(field, "max_length", None)
        if max_length:
            prop["maxLength"] = max_length
    if not field.required and "type" in prop:
        types = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
        prop["type"] = [*types, "null"]
    elif not field.required:
        prop["enum"] = [*prop["enum"], None]
    prop["title"] = str(field.label) if field.label else ""
    if field.help_text:
        prop["description"] = str(field.help_text)
    initial = field.initial() if callable(field.initial) else field.initial
    if initial is not None:
        prop["default"] = _to_json(field, initial)
    if isinstance(field.widget, forms.Textarea):
        prop["x-widget"] = "textarea"
    return prop


def schema(form_class: type[NodeSettings] | None) -> dict[str, Any] | None:
    """The form as a JSON Schema (draft 2020-12), or None for a rule without
    settings.  Each property has a ``title`` (the field's label); choice
    fields list ``x-choices`` (value and label, read from the database for
    model choices: one query per such field)."""
    if form_class is None:
        return None
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, field in form_class.base_fields.items():
        properties[name] = _field_schema(field)
        if not properties[name]["title"]:
            properties[name]["title"] = pretty_name(name)
        if field.required:
            required.append(name)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
