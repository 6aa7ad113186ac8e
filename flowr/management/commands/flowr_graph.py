"""``manage.py flowr_graph (--flow ID | --rule-set ID) [--format dot|mermaid] [-o FILE] [--state ID]``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from flowr.export import flow_to_dot, flow_to_mermaid, rule_set_to_dot, rule_set_to_mermaid
from flowr.models import Flow, RuleSet, State


class Command(BaseCommand):
    help = "Write a flow or a rule set as a Graphviz DOT or Mermaid diagram."

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--flow", type=int, help="primary key of the flow")
        which.add_argument("--rule-set", type=int, dest="rule_set", help="primary key of the rule set")
        parser.add_argument(
            "--format", choices=["dot", "mermaid"], default="dot", help="diagram language (default: dot)"
        )
        parser.add_argument("-o", "--output", help="write to this file instead of standard output")
        parser.add_argument(
            "--state", type=int, help="highlight this State's current node and the path it took (flows only)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        dot = options["format"] == "dot"
        if options["rule_set"] is not None:
            if options["state"] is not None:
                raise CommandError("--state needs --flow")
            rule_set = self._get(RuleSet, options["rule_set"])
            text = rule_set_to_dot(rule_set) if dot else rule_set_to_mermaid(rule_set)
        else:
            flow = self._get(Flow, options["flow"])
            state = None if options["state"] is None else self._get(State, options["state"])
            if state is not None and state.flow_id != flow.pk:
                raise CommandError(
                    f"State {state.pk} runs flow {state.flow_id}, not flow {flow.pk}: "
                    f"use --flow {state.flow_id} to highlight it"
                )
            text = flow_to_dot(flow, state) if dot else flow_to_mermaid(flow, state)
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8") as handle:
                handle.write(text)
        else:
            self.stdout.write(text, ending="")

    @staticmethod
    def _get(model: Any, pk: int) -> Any:
        try:
            return model.objects.get(pk=pk)
        except model.DoesNotExist:
            raise CommandError(f"{model._meta.verbose_name.capitalize()} {pk} does not exist")
