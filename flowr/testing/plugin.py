"""pytest fixtures for rule authors: ``pytest_plugins = ["flowr.testing.plugin"]``
in your top-level ``conftest.py`` (pytest-django is needed).

* ``flowr_build`` -- :func:`flowr.testing.build_flow`, with database access;
* ``flowr_run`` -- :func:`flowr.testing.run_path`, with database access;
* ``flowr_signals`` -- a :class:`flowr.testing.SignalCapture` recording the
  transition signals sent during the test.

flowr.testing is imported when a fixture is used (after Django is set up).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from flowr.testing.kit import SignalCapture


@pytest.fixture
def flowr_build(db: None) -> Callable[..., Any]:
    """``flowr_build(rule_set_or_root_rule, text, name="flow")`` -> Flow."""
    from flowr.testing import build_flow

    return build_flow


@pytest.fixture
def flowr_run(db: None) -> Callable[..., Any]:
    """``flowr_run(flow, path, subject=None, actor=None)`` -> PathRun."""
    from flowr.testing import run_path

    return run_path


@pytest.fixture
def flowr_signals() -> Iterator[SignalCapture]:
    """The transition signals sent during the test, in order."""
    from flowr.testing import capture_signals

    with capture_signals() as captured:
        yield captured
