"""Two clients advancing one State at once through the API: one wins, the
other gets 409 and nothing of its attempt is written."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from rest_framework.test import APIClient

from flowr import sample_rules
from flowr.models import RuleSet, State, StateHistory
from tests.api_fixtures import API, build_flow

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.server_db]


def race(count: int, work: Any) -> list[Any]:
    """``work(i)`` in ``count`` threads released together; their results."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def main(index: int) -> None:
        try:
            barrier.wait(timeout=60)
            results[index] = work(index)
        except BaseException as exc:  # reported by the test
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=main, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(t.is_alive() for t in threads), "workers hung"
    return results


@pytest.mark.parametrize("round_", range(3))
def test_one_of_two_advances_wins(round_):
    admin = User.objects.create_superuser("admin", password="pw")
    flow = build_flow(RuleSet.factory("sample", sample_rules.A))
    state = State.start(flow)
    root = flow.state_graph.root_id

    def advance(index: int) -> tuple[int, str | None]:
        client = APIClient()
        client.force_authenticate(admin)
        response = client.post(f"{API}/states/{state.pk}/advance/", {"expected_node": root}, format="json")
        return response.status_code, response.json().get("code")

    results = race(2, advance)
    assert sorted(r[0] for r in results) == [200, 409], results
    assert [r[1] for r in results if r[0] == 409][0] in {"concurrent_transition", "lock_timeout"}
    state.refresh_from_db()
    assert state.version == 1 and state.current_node.rule is sample_rules.C
    assert StateHistory.objects.filter(state=state).count() == 2
