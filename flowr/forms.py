"""Forms of flowr's admin screens.

Rules are always offered as a select built from the rule registry (the Rule
classes of installed apps); a typed dotted path is never accepted, and a
posted value outside the offered choices is a form error, never an import.
"""

from __future__ import annotations

from typing import Any

from django import forms

from flowr import edits
from flowr import rules as rule_registry
from flowr.guards import TransitionOption
from flowr.models import Flow, FlowNodeData, RuleSet
from flowr.rules import Rule


def rule_display(label: str) -> str:
    """A rule's name, or ``missing: <label>`` when the label is gone."""
    found = rule_registry.get_rule(label)
    return found.name if found is not None else f"missing: {label}"


def rule_choice(rule: type[Rule]) -> tuple[str, str]:
    return rule.class_label, f"{rule.name} ({rule.class_label})"


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
        label="Root rule",
        help_text="Every flow of this rule set starts with this rule.",
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
            choices.insert(0, (current, f"missing: {current}"))
        field.choices = [("", "---------"), *choices]
        if self.instance.pk and self.instance.flows.exists():
            # flows were built from this root: changing it would break them
            field.disabled = True
            field.help_text = "Fixed: flows already use this rule set."

    def clean_root_rule_label(self) -> str:
        label: str = self.cleaned_data["root_rule_label"]
        unchanged = self.instance.pk and label == self.instance.root_rule_label
        if rule_registry.get_rule(label) is None and not unchanged:
            raise forms.ValidationError("Choose a rule that exists.")
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
                f"The root rule of {rule_set.name!r} is missing: {rule_set.root_rule_label}. Fix the code first."
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

    rule = forms.ChoiceField(label="Rule of the new child")

    def __init__(self, *args: Any, allowed: list[type[Rule]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choice_field(self, "rule").choices = [(rule.class_label, rule.name) for rule in allowed]


class ConnectForm(forms.Form):
    """Choose an existing node that may become a child of the node."""

    target = forms.TypedChoiceField(label="Connect to", coerce=int)

    def __init__(self, *args: Any, targets: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choice_field(self, "target").choices = targets


class StartStateForm(forms.Form):
    """Start a State at the root of a chosen flow."""

    flow = forms.ModelChoiceField(queryset=Flow.objects.select_related("rule_set"), label="Flow")


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
    rule = forms.ChoiceField(label="Next rule", required=False, widget=forms.RadioSelect)
    note = forms.CharField(
        label="Note",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Stored with the transition in the State's history.",
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


def node_label(data: FlowNodeData) -> str:
    """``#<node id> <rule>`` -- how the admin names a node."""
    return node_text(data.node_id, data.rule_label)


def node_text(node_id: int, rule_label: str) -> str:
    """:func:`node_label` from the node's id and rule label."""
    return f"#{node_id} {rule_display(rule_label)}"
