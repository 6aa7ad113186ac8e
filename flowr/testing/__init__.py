"""A test kit for rule authors.

* :func:`build_flow` -- a flow from a compact text, built through the edit
  service (``"Submitted > Review > (Approved | Rejected > @Submitted)"``);
* :func:`flow_nodes` -- its nodes by rule name;
* :func:`run_path` -- start a State and move it along a path, with the
  history and the signals sent; :func:`assert_history`;
* :func:`capture_signals` -- record the transition signals in a block;
* :func:`lint_rule_set` -- rules unreachable, rules with no way to an end,
  branching rules that cannot branch;
* :mod:`flowr.testing.strategies` -- hypothesis strategies (optional
  dependency: ``pip install django-flowr[testing]``);
* :mod:`flowr.testing.plugin` -- pytest fixtures
  (``pytest_plugins = ["flowr.testing.plugin"]``).

See docs/testing.md.
"""

from flowr.policy import RuleSetProblem
from flowr.testing.kit import (
    FlowNodes,
    PathRun,
    SignalCapture,
    SignalEvent,
    assert_history,
    build_flow,
    capture_signals,
    flow_nodes,
    lint_rule_set,
    run_path,
)
from flowr.testing.spec import FlowSpecError, parse

__all__ = [
    "FlowNodes",
    "FlowSpecError",
    "PathRun",
    "RuleSetProblem",
    "SignalCapture",
    "SignalEvent",
    "assert_history",
    "build_flow",
    "capture_signals",
    "flow_nodes",
    "lint_rule_set",
    "parse",
    "run_path",
]
