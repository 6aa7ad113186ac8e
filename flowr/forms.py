"""Forms of flowr's admin screens.

Rules are always offered as a select built from the rule registry (the Rule
classes of installed apps); a typed dotted path is never accepted, and a
posted value outside the offered choices is a form error, never an import.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.widgets import AutocompleteMixin, get_select2_language
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db.models import Model, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from flowr import edits
from flowr import rules as rule_registry
from flowr.conf import subject_models
from flowr.guards import TransitionOption
from flowr.models import Flow, FlowNodeData, RuleSet
from flowr.rules import Rule


def rule_display(label: str) -> str:
    """A rule's verbose name, or ``missing: <label>`` when the label is gone."""
    found = rule_registry.get_rule(label)
    return str(found.verbose_name) if found is not None else _("missing: %(label)s") % {"label": label}


def rule_choice(rule: type[Rule]) -> tuple[str, str]:
    return rule.class_label, f"{rule.verbose_name} ({rule.class_label})"


def _choice_field(form: forms.BaseForm, name: str) -> forms.ChoiceField:
    """``form.fields[name]``, typed as the ChoiceField it is declared as."""
    field = form.fields[name]
    if not isinstance(field, forms.ChoiceField):
        raise TypeError(f"{type(form).__name__}.{name} is not a ChoiceField")
    return field


def known_rule_choices() -> list[tuple[str, str]]:
    """Every Rule class of the installed apps, as select choices."""
    return [rule_choice(rule) for rule in rule_registry.all_rules()]


class RuleSetForm(forms.ModelForm):
    """Create or rename a rule set; the root rule is chosen from a select."""

    root_rule_label = forms.ChoiceField(
        label=gettext_lazy("Root rule"),
        help_text=gettext_lazy("Every flow of this rule set starts with this rule."),
    )

    class Meta:
        model = RuleSet
        fields = ["name", "root_rule_label"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = _choice_field(self, "root_rule_label")
        choices = known_rule_choices()
        current = self.instance.root_rule_label if self.instance.pk else ""
        if current and current not in dict(choices):
            choices.insert(0, (current, _("missing: %(label)s") % {"label": current}))
        field.choices = [("", "---------"), *choices]
        if self.instance.pk and self.instance.flows.exists():
            # flows were built from this root: changing it would break them
            field.disabled = True
            field.help_text = _("Fixed: flows already use this rule set.")

    def clean_root_rule_label(self) -> str:
        label: str = self.cleaned_data["root_rule_label"]
        unchanged = self.instance.pk and label == self.instance.root_rule_label
        if rule_registry.get_rule(label) is None and not unchanged:
            raise forms.ValidationError(_("Choose a rule that exists."))
        return label


class FlowAddForm(forms.ModelForm):
    """A new flow: its name and rule set (the root node is created for it)."""

    class Meta:
        model = Flow
        fields = ["name", "rule_set"]

    def clean_rule_set(self) -> RuleSet:
        rule_set: RuleSet = self.cleaned_data["rule_set"]
        if rule_set.rule_missing:
            raise forms.ValidationError(
                _("The root rule of %(name)r is missing: %(label)s. Fix the code first.")
                % {"name": rule_set.name, "label": rule_set.root_rule_label}
            )
        return rule_set


class FlowChangeForm(forms.ModelForm):
    """Rename a flow; its graph is edited with the node forms.  A frozen
    flow (States use it) cannot be renamed: the edit service says why."""

    class Meta:
        model = Flow
        fields = ["name"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.instance.pk and self.has_changed():
            refusal = edits.edit_refusal(self.instance)
            if refusal is not None:
                raise forms.ValidationError(str(refusal), code=refusal.code)
        return cleaned


class AddChildForm(forms.Form):
    """Choose the rule of a new child among those allowed at the node."""

    rule = forms.ChoiceField(label=gettext_lazy("Rule of the new child"))

    def __init__(self, *args: Any, allowed: list[type[Rule]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choice_field(self, "rule").choices = [(rule.class_label, str(rule.verbose_name)) for rule in allowed]


class ConnectForm(forms.Form):
    """Choose an existing node that may become a child of the node."""

    target = forms.TypedChoiceField(label=gettext_lazy("Connect to"), coerce=int)

    def __init__(self, *args: Any, targets: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choice_field(self, "target").choices = targets


class StartStateForm(forms.Form):
    """Start a State at the root of a chosen flow, optionally about a subject.

    The subject is a model among ``FLOWR["SUBJECT_MODELS"]`` that ``user``
    may view, and the id of one of its objects (checked here: a bad model or
    object is a form error).  ``cleaned_data["subject"]`` is the object, or
    None.
    """

    flow = forms.ModelChoiceField(queryset=Flow.objects.select_related("rule_set"), label=gettext_lazy("Flow"))
    subject_type = forms.ChoiceField(label=gettext_lazy("Subject model"), required=False)
    subject_id = forms.CharField(
        label=gettext_lazy("Subject"),
        required=False,
        max_length=255,
        help_text=gettext_lazy("The id of the object the State is about."),
    )

    def __init__(self, *args: Any, user: Any = None, pickers: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.subject_models = subject_models_for(user)
        _choice_field(self, "subject_type").choices = [
            ("", _("(none)")),
            *((label, str(model._meta.verbose_name).capitalize()) for label, model in self.subject_models.items()),
        ]
        # a search box per subject model the admin can autocomplete (label -> URL)
        for label, url in (pickers or {}).items():
            if label in self.subject_models:
                name = self.subject_models[label]._meta.verbose_name
                self.fields[picker_field(label)] = forms.CharField(
                    label=_("Find a %(model)s") % {"model": name},
                    required=False,
                    max_length=255,
                    widget=SubjectPicker(url, label),
                )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        label, pk = cleaned.get("subject_type") or "", (cleaned.get("subject_id") or "").strip()
        cleaned["subject"] = None
        if not label and not pk and not any(cleaned.get(picker_field(other)) for other in self.subject_models):
            return cleaned
        if not label:
            self.add_error("subject_type", _("Choose the subject's model too."))
            return cleaned
        if label and not pk:
            pk = (cleaned.get(picker_field(label)) or "").strip()
        if not pk:
            self.add_error("subject_id", _("Choose the object too."))
            return cleaned
        model = self.subject_models[label]  # the choices only hold these
        try:
            cleaned["subject"] = model._default_manager.get(pk=pk)
        except (ObjectDoesNotExist, ValidationError, ValueError, TypeError, OverflowError):
            self.add_error(
                "subject_id", _("No %(model)s with id %(id)r.") % {"model": model._meta.verbose_name, "id": pk}
            )
        return cleaned


def picker_field(label: str) -> str:
    """The StartStateForm field that searches the subject model ``label``."""
    return "subject_pick_" + label.replace(".", "__")


class SubjectPicker(forms.Select):
    """A search box over one subject model, answered by Django admin's
    autocomplete view (its select2 widget, its ``search_fields``)."""

    media = AutocompleteMixin.media
    flowr_subject_picker = True

    def __init__(self, url: str, label: str) -> None:
        super().__init__()
        self.url, self.subject_label = url, label
        self.i18n_name = get_select2_language()

    def build_attrs(self, base_attrs: dict[str, Any], extra_attrs: dict[str, Any] | None = None) -> dict[str, Any]:
        attrs = super().build_attrs(base_attrs, extra_attrs)
        attrs.update(
            {
                "class": "admin-autocomplete",
                "data-ajax--cache": "true",
                "data-ajax--delay": 250,
                "data-ajax--type": "GET",
                "data-ajax--url": self.url,
                "data-theme": "admin-autocomplete",
                "data-allow-clear": "true",
                "data-placeholder": "",
                "lang": self.i18n_name,
            }
        )
        return attrs

    def optgroups(self, name: str, value: list[Any], attrs: dict[str, Any] | None = None) -> list[Any]:
        """The empty choice, and the posted id (shown again after a form error)."""
        options = [self.create_option(name, "", "", False, 0)]
        options += [self.create_option(name, v, v, True, 1) for v in value if v]
        return [(None, options, 0)]


def subject_models_for(user: Any) -> dict[str, type[Model]]:
    """The subject models (``FLOWR["SUBJECT_MODELS"]``) ``user`` may view."""
    return {
        label: model
        for label, model in subject_models().items()
        if user is not None
        and any(
            user.has_perm(f"{model._meta.app_label}.{action}_{model._meta.model_name}") for action in ("view", "change")
        )
    }


class SubjectAdvanceForm(forms.Form):
    """A subject page's advance button: which State, to which rule, seen at which version."""

    state = forms.IntegerField(min_value=1)
    rule = forms.CharField(max_length=255, required=False)
    expected_version = forms.IntegerField(min_value=0)
    note = forms.CharField(max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2}))


class SubjectStartForm(forms.Form):
    """A subject page's "Start on a flow": one of the offered flows."""

    flow = forms.ModelChoiceField(queryset=Flow.objects.none())

    def __init__(self, *args: Any, flows: QuerySet[Flow], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["flow"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = flows


class AdvanceForm(forms.Form):
    """Move a State on; ``rule`` is needed when the current node branches;
    ``note`` is stored on the history row.

    ``options`` (``state.transition_options(actor=user)``) limits the
    choices to the rules that user may take; without it every child is a
    choice (``next_nodes``).

    ``expected_node`` is the node the user saw (its Node id, as the REST API's
    ``expected_node`` and the editor name it): if the State moved meanwhile
    the advance is refused instead of applied to a node nobody looked at.
    """

    expected_node = forms.IntegerField(widget=forms.HiddenInput)
    # the compare-and-set token: a State that went round a loop is back at
    # the node the user saw, with another version
    expected_version = forms.IntegerField(widget=forms.HiddenInput)
    rule = forms.ChoiceField(label=gettext_lazy("Next rule"), required=False, widget=forms.RadioSelect)
    note = forms.CharField(
        label=gettext_lazy("Note"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=gettext_lazy("Stored with the transition in the State's history."),
    )

    def __init__(
        self,
        *args: Any,
        next_nodes: list[FlowNodeData] | None = None,
        options: list[TransitionOption] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if options is not None:
            labels = [option.node.rule_label for option in options if option.allowed]
        else:
            labels = [data.rule_label for data in next_nodes or []]
        _choice_field(self, "rule").choices = [(label, rule_display(label)) for label in labels]


class AdvanceManyForm(forms.Form):
    """Advance the States selected in the admin's list (``ids``, comma-separated)."""

    ids = forms.CharField(widget=forms.HiddenInput)
    rule = forms.ChoiceField(
        label=gettext_lazy("Rule where a state branches"),
        required=False,
        help_text=gettext_lazy("Only used where the current node branches."),
    )
    note = forms.CharField(
        label=gettext_lazy("Note"), required=False, max_length=10_000, widget=forms.Textarea(attrs={"rows": 2})
    )
    atomic = forms.BooleanField(
        label=gettext_lazy("All or nothing"),
        required=False,
        help_text=gettext_lazy("If any state cannot move, none moves."),
    )

    def __init__(self, *args: Any, rules: list[str], limit: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limit = limit
        _choice_field(self, "rule").choices = [("", "—"), *((label, rule_display(label)) for label in rules)]

    def clean_ids(self) -> list[int]:
        raw = self.cleaned_data["ids"]
        parts = [part.strip() for part in raw.split(",") if part.strip()]
        if not parts or not all(part.isascii() and part.isdigit() for part in parts):
            raise forms.ValidationError(_("Not a list of state ids."))
        ids = [int(part) for part in parts]
        if any(i < 1 or i > 2**63 - 1 for i in ids):
            raise forms.ValidationError(_("Not a list of state ids."))
        if len(ids) > self.limit:
            raise forms.ValidationError(_("At most %(limit)s states at once.") % {"limit": self.limit})
        return list(dict.fromkeys(ids))


class JumpForm(forms.Form):
    """Move a State to any node of its flow (``node``: a Node id)."""

    expected_version = forms.IntegerField(widget=forms.HiddenInput)
    node = forms.TypedChoiceField(label=gettext_lazy("Jump to"), coerce=int)
    note = forms.CharField(
        label=gettext_lazy("Note"), required=False, max_length=10_000, widget=forms.Textarea(attrs={"rows": 2})
    )
    callbacks = forms.BooleanField(
        label=gettext_lazy("Run the callbacks"),
        required=False,
        help_text=gettext_lazy("on_leave of the current rule, on_enter of the new one."),
    )

    def __init__(self, *args: Any, nodes: list[FlowNodeData], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choice_field(self, "node").choices = [(data.node_id, node_label(data)) for data in nodes]


class CancelForm(forms.Form):
    """Cancel a State for good."""

    expected_version = forms.IntegerField(widget=forms.HiddenInput)
    note = forms.CharField(
        label=gettext_lazy("Note"), required=False, max_length=10_000, widget=forms.Textarea(attrs={"rows": 2})
    )


def node_label(data: FlowNodeData) -> str:
    """``#<node id> <rule>`` -- how the admin names a node."""
    return node_text(data.node_id, data.rule_label)


def node_text(node_id: int, rule_label: str) -> str:
    """:func:`node_label` from the node's id and rule label."""
    return f"#{node_id} {rule_display(rule_label)}"
