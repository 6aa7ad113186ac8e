import pytest

from flowr import sample_rules


@pytest.fixture(autouse=True)
def _reset_recorders():
    sample_rules.done_enter = []
    sample_rules.done_leave = []
    yield
