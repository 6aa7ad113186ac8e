"""``manage.py load_demo [--reset]``: the demo's rule sets, flows and States."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from flowr.models import RuleSet
from helpdesk import demo_data


class Command(BaseCommand):
    help = "Load the demo's rule sets, flows, tickets and running states."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--reset", action="store_true", help="delete flowr's and the helpdesk's data first")

    def handle(self, *args: Any, reset: bool = False, **options: Any) -> None:
        if RuleSet.objects.exists():
            if not reset:
                raise CommandError("The demo data is already loaded; use --reset to load it afresh.")
            demo_data.clear()
        actor = get_user_model().objects.filter(is_superuser=True).order_by("pk").first()
        counts = demo_data.load(actor=actor)
        summary = ", ".join(f"{n} {what}" for what, n in counts.items() if what != "clones")
        self.stdout.write(self.style.SUCCESS(f"Demo data loaded: {summary}."))
