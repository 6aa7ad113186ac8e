"""flowr.testing.plugin: the fixtures, used directly here and opted into by
a conftest in a project of its own (pytester)."""

from __future__ import annotations

import os
from pathlib import Path

from flowr.models import Flow, State
from flowr.testing import assert_history
from tests import kit_rules as kr
from tests.test_docs_snippets import blocks

pytest_plugins = ["flowr.testing.plugin", "pytester"]

ROOT = Path(__file__).resolve().parent.parent


def test_flowr_build_and_flowr_run_have_database_access(flowr_build, flowr_run):
    flow = flowr_build(kr.Submitted, "Submitted > Review > Approved", name="plugged")
    assert Flow.objects.get() == flow
    run = flowr_run(flow, ["Review", "Approved"])
    assert_history(run, ["Submitted", "Review", "Approved"])


def test_flowr_signals_captures_the_test_signals(flowr_build, flowr_signals):
    flow = flowr_build(kr.Submitted, "Submitted > Review")
    State.start(flow).next_state()
    assert flowr_signals.summary() == [
        "pre_transition: - -> Submitted",
        "post_transition: - -> Submitted",
        "pre_transition: Submitted -> Review",
        "post_transition: Submitted -> Review",
    ]


def test_a_project_opts_in_from_its_conftest(pytester, monkeypatch):
    """docs/testing.md's conftest line and fixture example, in a project of their own."""
    conftest, example = (b for b in blocks("testing.md") if "pytest_plugins" in b or "flowr_build" in b)
    monkeypatch.setenv("FLOWR_TEST_DB", "sqlite")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    pytester.makeconftest(conftest)
    pytester.makepyfile(
        test_claims="from tests.kit_rules import Submitted  # the page's rules\n\n\n" + example,
        test_more="""
        def test_without_the_db_fixture(flowr_signals):
            assert flowr_signals.summary() == []
        """,
    )
    result = pytester.runpytest_subprocess(
        "--ds=tests.settings", "-p", "no:cacheprovider", "-q", "-W", "ignore::DeprecationWarning"
    )
    result.assert_outcomes(passed=2)
