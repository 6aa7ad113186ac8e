"""``manage.py flowr_check_integrity [--state ID ...]``: exit code 1 on problems."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from flowr.integrity import check_integrity


class Command(BaseCommand):
    help = (
        "Verify the invariants of running States: contiguous history, current node = last history target, "
        "version = transitions, node inside the flow.  Exits with status 1 when a problem is found."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--state",
            type=int,
            nargs="+",
            action="extend",
            dest="states",
            metavar="ID",
            help="check only these States (--state 7 9, or --state 7 --state 9)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        problems = check_integrity(options["states"])
        for problem in problems:
            self.stderr.write(str(problem))
        if problems:
            raise CommandError(f"{len(problems)} integrity problem(s) found", returncode=1)
        self.stdout.write(self.style.SUCCESS("No integrity problems found."))
