"""``/flowr/api/rules/``."""

from __future__ import annotations

from flowr import rules as rule_registry
from tests.api_fixtures import (  # noqa: F401  (fixtures)
    API,
    api_fixture,
    chain_set_fixture,
    client_for_fixture,
    flow_fixture,
    rule_set_fixture,
    users_fixture,
)


def test_list_rules(api):
    response = api.get(f"{API}/rules/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == len(rule_registry.all_rules())
    by_label = {r["label"]: r for r in body["results"]}
    assert by_label["flowr.sample_rules.C"] == {
        "label": "flowr.sample_rules.C",
        "name": "C",
        "verbose_name": "C",
        "children": ["flowr.sample_rules.D", "flowr.sample_rules.E"],
        "multiple_paths": True,
        "has_edit_screen": True,
    }
    # forward references by label are listed as written
    assert by_label["tests.testapp.rules.Cycle1"]["children"] == ["tests.testapp.rules.Cycle2"]


def test_rules_paginated(api, settings):
    settings.FLOWR = {"API_PAGE_SIZE": 2}
    first = api.get(f"{API}/rules/").json()
    assert len(first["results"]) == 2 and first["next"]
    second = api.get(first["next"]).json()
    assert second["results"][0]["label"] != first["results"][0]["label"]
    small = api.get(f"{API}/rules/?page_size=3").json()
    assert len(small["results"]) == 3


def test_rules_need_no_queries_beyond_auth(api, django_assert_max_num_queries):
    with django_assert_max_num_queries(0):
        assert api.get(f"{API}/rules/").status_code == 200
