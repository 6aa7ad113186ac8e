"""``manage.py flowr_fire_timers``: fire the due timers (for cron), or keep
firing them every few seconds with ``--loop``."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from flowr import timers


class Command(BaseCommand):
    help = "Move the States whose timer is due by their timeout rule, once each."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", type=int, default=100, help="States claimed per transaction (default 100).")
        parser.add_argument("--loop", type=float, default=None, metavar="SECONDS", help="Fire again every SECONDS.")
        parser.add_argument("--database", default=None, help="The database alias (default: the router's).")

    def handle(self, *args: Any, batch: int, loop: float | None, database: str | None, **options: Any) -> None:
        if batch < 1:
            raise CommandError("--batch must be at least 1")
        while True:
            report = timers.fire_all(batch=batch, using=database)
            self.stdout.write(
                f"fired {report.fired}, dropped {report.dropped} (moved first), "
                f"refused {report.refused}, failed {report.failed}, reminded {report.reminded}"
            )
            if loop is None:
                return
            time.sleep(loop)
