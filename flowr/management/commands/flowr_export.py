"""``manage.py flowr_export FLOW_ID [-o FILE]``: a flow as a JSON document."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from flowr.export import export_flow
from flowr.models import Flow


class Command(BaseCommand):
    help = "Export a flow (its rule set, nodes and edges) as JSON (format 1)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("flow_id", type=int, help="primary key of the flow")
        parser.add_argument("-o", "--output", help="write to this file instead of standard output")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            flow = Flow.objects.get(pk=options["flow_id"])
        except Flow.DoesNotExist:
            raise CommandError(f"Flow {options['flow_id']} does not exist")
        text = json.dumps(export_flow(flow), indent=2, ensure_ascii=False) + "\n"
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8") as handle:
                handle.write(text)
            self.stderr.write(f"Exported flow {flow.pk} ({flow}) to {options['output']}")
        else:
            self.stdout.write(text, ending="")
