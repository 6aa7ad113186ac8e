"""``manage.py flowr_import FILE [--name NAME] [--rule-set ID]``."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from flowr.export import ImportErrors, JSONInputError, import_flow, parse_json


class Command(BaseCommand):
    help = (
        "Import a flow from a JSON document (as written by flowr_export). The whole document is "
        "checked first; a bad document writes nothing and every problem is listed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the JSON document ('-' reads standard input)")
        parser.add_argument("--name", help="name of the new flow (default: the document's)")
        parser.add_argument("--rule-set", type=int, dest="rule_set", help="attach the flow to this rule set (pk)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["file"] == "-":
                raw = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode()
            else:
                with open(options["file"], "rb") as handle:
                    raw = handle.read()
        except OSError as exc:
            raise CommandError(f"Cannot read {options['file']}: {exc}")
        try:  # the API's parser: UTF-8 only, no deep nesting, no NUL or lone surrogates
            document = parse_json(raw)
        except JSONInputError as exc:
            raise CommandError(f"{options['file']} is not JSON flowr reads: {exc}")
        try:
            flow = import_flow(document, name=options["name"], rule_set=options["rule_set"])
        except ImportErrors as exc:
            lines = [f"  {p['path']}: {p['message']}" for p in exc.problems]
            raise CommandError(f"Nothing imported; {len(lines)} problem(s):\n" + "\n".join(lines))
        self.stdout.write(f"Imported flow {flow.pk} ({flow}) into rule set {flow.rule_set_id}")
