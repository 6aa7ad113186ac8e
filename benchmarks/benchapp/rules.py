"""Rules of the benchmarks (autodiscovered as the app's ``rules`` module).

``Loop1 -> Loop2 -> Loop3 -> Loop1`` is the transition benchmark's flow: its
callbacks do nothing, so only flowr's own cost is measured.  ``Split`` /
``Left`` / ``Right`` build the scale graphs: a binary creation tree where each
``Split`` may also link back to an earlier ``Split`` (cycles).  ``Chain``
builds deep chains.
"""

from __future__ import annotations

from typing import Any

from flowr.rules import Rule


class Loop1(Rule):
    children = ["benchmarks.benchapp.rules.Loop2"]


class Loop2(Rule):
    children = ["benchmarks.benchapp.rules.Loop3"]


class Loop3(Rule):
    children = [Loop1]


class Split(Rule):
    multiple_paths = True
    children: list[Any] = ["benchmarks.benchapp.rules.Left", "benchmarks.benchapp.rules.Right"]


class Left(Rule):
    children = [Split]


class Right(Rule):
    children = [Split]


Split.children = [Left, Right, Split]


class Chain(Rule):
    children = ["benchmarks.benchapp.rules.Chain"]


class TimedDone(Rule):
    """Where the timer benchmark's timeouts move the States."""


class TimedWait(Rule):
    children = [TimedDone]
    timeout_targets = [TimedDone]


class TimedStart(Rule):
    children = [TimedWait]
