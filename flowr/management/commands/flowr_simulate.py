"""``manage.py flowr_simulate FLOW_ID [--subject app_label.model:pk] [--choose CHILD ...] [--explore]
[--max-steps N] [--now ISO_DATETIME] [--stop-after-choices] [--format text|json]``: a dry run that keeps
nothing (:func:`flowr.simulate`)."""

from __future__ import annotations

import datetime
import json
from typing import Any

from django.apps import apps
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import models
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from flowr.models import Flow
from flowr.simulator import CallbackCall, SimulatedPath, SimulationReport, Step, now_refusal, simulate


class Command(BaseCommand):
    help = (
        "Simulate a flow with its real rules (guards, callbacks, signals) inside a transaction that is "
        "rolled back: nothing is kept, the flow is not frozen. Callbacks of rules with "
        "simulation_safe = False are skipped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("flow", type=int, help="primary key of the flow")
        parser.add_argument("--subject", help="the State's subject, as app_label.model:pk (e.g. shop.order:42)")
        parser.add_argument(
            "--choose",
            action="append",
            default=[],
            metavar="CHILD",
            help="a child to take (rule label, rule class name or node id); repeat it for each step, in order",
        )
        parser.add_argument("--explore", action="store_true", help="walk every branch (--choose is ignored)")
        parser.add_argument("--max-steps", type=int, default=100, dest="max_steps", help="transitions per path")
        parser.add_argument(
            "--now",
            metavar="ISO_DATETIME",
            help="fast-forward to this time: the timers due by then fire (e.g. 2026-12-03T09:00; not with --explore)",
        )
        parser.add_argument(
            "--stop-after-choices",
            action="store_true",
            dest="stop_after_choices",
            help="stop once every --choose is taken instead of going on with the first allowed child",
        )
        parser.add_argument("--format", choices=["text", "json"], default="text", help="output (default: text)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["max_steps"] < 0:
            raise CommandError("--max-steps must be 0 or more")
        try:
            flow = Flow.objects.get(pk=options["flow"])
        except Flow.DoesNotExist:
            raise CommandError(f"Flow {options['flow']} does not exist") from None
        subject = _subject(options["subject"]) if options["subject"] else None
        now = _now(options["now"]) if options["now"] else None
        refusal = now_refusal(now, options["explore"])
        if refusal is not None:
            raise CommandError(refusal)
        choices: list[str | int] = [int(c) if c.isdigit() else c for c in options["choose"]]
        report = simulate(
            flow,
            subject=subject,
            choices=choices,
            explore=options["explore"],
            max_steps=options["max_steps"],
            now=now,
            stop_after_choices=options["stop_after_choices"],
        )
        if options["format"] == "json":
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
        else:
            self.stdout.write("\n".join(render(report)))


def _now(text: str) -> datetime.datetime:
    """``--now``: an ISO 8601 date and time; without an offset, in the current time zone."""
    try:
        found = parse_datetime(text)
    except ValueError:
        found = None
    if found is None:
        raise CommandError(f"--now must be an ISO 8601 date and time (2026-12-03T09:00), not {text!r}")
    return timezone.make_aware(found) if timezone.is_naive(found) else found


def _subject(text: str) -> models.Model:
    """The object ``app_label.model:pk`` names."""
    name, colon, pk = text.partition(":")
    app_label, dot, model_name = name.partition(".")
    if not (colon and dot and app_label and model_name and pk):
        raise CommandError(f"--subject must be app_label.model:pk, not {text!r}")
    try:
        model = apps.get_model(app_label, model_name)
    except LookupError:
        raise CommandError(f"--subject: no model {name!r}") from None
    try:
        found: models.Model = model._default_manager.get(pk=pk)
    except (ObjectDoesNotExist, ValidationError, ValueError, TypeError, OverflowError):
        raise CommandError(f"--subject: no {name} with pk {pk!r}") from None
    return found


def render(report: SimulationReport) -> list[str]:
    """The report as lines of text."""
    lines = [f"Simulation of flow {report.flow_name!r} (#{report.flow}); nothing was kept."]
    if report.subject is not None:
        lines.append(f"Subject: {report.subject}")
    for number, path in enumerate(report.paths, 1):
        lines.extend(_path(number, path))
    if report.truncated:
        lines.append("Exploration stopped at its limit: more paths exist.")
    lines.append("Ends reached: " + (", ".join(f"#{n.id} {n.rule_name}" for n in report.ends_reached) or "none"))
    lines.append("Not reached: " + (", ".join(f"#{n.id} {n.rule_name}" for n in report.unreached) or "none"))
    return lines


def _path(number: int, path: SimulatedPath) -> list[str]:
    lines = [f"Path {number} ({path.outcome}):"]
    for index, step in enumerate(path.steps, 1):
        lines.extend(_step(index, step))
    return lines


def _step(index: int, step: Step) -> list[str]:
    note = "" if step.reached else " (not reached)"
    lines = [f"  {index}. #{step.node.id} {step.node.rule_name} [{step.node.rule_label}]{note}"]
    lines.extend(_calls(step.callbacks))
    lines.extend(f"       timer: {timer}" for timer in step.timers)
    by_timeout = " by the timeout" if "timeout" in step.timers else ""
    for child in step.children:
        verdict = "allowed" if child.allowed else f"refused: {child.reason}"
        taken = f"  <- taken{by_timeout}" if child.node.id == step.taken else ""
        lines.append(f"       -> #{child.node.id} {child.node.rule_name}: {verdict}{taken}")
    if step.error is not None:
        lines.extend(_calls(step.error.callbacks))
        lines.append(f"       error: {step.error.type}: {step.error.message}")
    return lines


def _calls(calls: list[CallbackCall]) -> list[str]:
    return [f"       {call.hook} {call.rule_label}: {call.outcome}" for call in calls]
