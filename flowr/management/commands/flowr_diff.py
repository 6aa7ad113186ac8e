"""``manage.py flowr_diff A B [--format json|text]``: what changed from flow A to flow B."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from flowr.diff import diff_flows, diff_text, is_empty
from flowr.models import Flow


class Command(BaseCommand):
    help = (
        "What changed from flow A to flow B (nodes and links added and removed, nodes whose rule changed), "
        "pairing nodes by their path of rules from the root. Exits with status 1 when they differ."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("a", type=int, help="primary key of the older flow")
        parser.add_argument("b", type=int, help="primary key of the newer flow")
        parser.add_argument("--format", choices=["json", "text"], default="text", help="output format (default text)")

    def handle(self, *args: Any, **options: Any) -> None:
        flows = Flow.objects.in_bulk([options["a"], options["b"]])
        for key in ("a", "b"):
            if options[key] not in flows:
                raise CommandError(f"Flow {options[key]} does not exist")
        diff = diff_flows(flows[options["a"]], flows[options["b"]])
        if options["format"] == "json":
            self.stdout.write(json.dumps(diff, indent=2))
        else:
            self.stdout.write(diff_text(diff))
        if not is_empty(diff):
            raise SystemExit(1)
