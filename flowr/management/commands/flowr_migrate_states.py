"""``manage.py flowr_migrate_states SOURCE TARGET [--map SRC=DST ...] [--dry-run]``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from flowr.exceptions import FlowrError, MappingIncomplete
from flowr.models import Flow
from flowr.versions import migrate_states


def node_pair(text: str) -> tuple[int, int]:
    source, sep, target = text.partition("=")
    if not sep or not source.strip().isdigit() or not target.strip().isdigit():
        raise ValueError(text)
    return int(source), int(target)


class Command(BaseCommand):
    help = (
        "Move every running State of flow SOURCE onto flow TARGET (same rule set), all or nothing. "
        "Nodes map by their path of rules from the root; map the others with --map."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("source", type=int, help="primary key of the flow the States are on")
        parser.add_argument("target", type=int, help="primary key of the flow to move them to")
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            type=node_pair,
            metavar="SRC=DST",
            help="map source node SRC to target node DST (graph Node pks); repeatable",
        )
        parser.add_argument("--dry-run", action="store_true", help="report what would move, change nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        flows = Flow.objects.in_bulk([options["source"], options["target"]])
        for key in ("source", "target"):
            if options[key] not in flows:
                raise CommandError(f"Flow {options[key]} does not exist")
        try:
            report = migrate_states(
                flows[options["source"]],
                flows[options["target"]],
                mapping=dict(options["map"]),
                dry_run=options["dry_run"],
            )
        except MappingIncomplete as exc:
            raise CommandError(exc.report.summary())
        except FlowrError as exc:
            raise CommandError(str(exc))
        if not report.ok:  # a dry run reports unmapped nodes: fail so scripts notice
            raise CommandError(report.summary())
        self.stdout.write(report.summary())
