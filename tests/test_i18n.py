"""flowr in French: the shipped catalogs are complete and up to date with the
sources, and with French active the admin pages, the editor and its
JavaScript catalog speak French; rules show their verbose names."""

from __future__ import annotations

import gettext as gnu_gettext
import html
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy

from flowr import rules
from flowr.models import Flow, RuleSet, State
from flowr.rules import Rule

FLOWR = Path(__file__).resolve().parent.parent / "flowr"
LOCALE = FLOWR / "locale" / "fr" / "LC_MESSAGES"
DOMAINS = ["django", "djangojs"]

needs_gettext = pytest.mark.skipif(
    shutil.which("xgettext") is None or shutil.which("msgfmt") is None, reason="GNU gettext tools not installed"
)

# -- the catalogs ---------------------------------------------------------------------

_ENTRY = re.compile(r'^msgid ((?:".*"\n?)+)(?:msgid_plural ((?:".*"\n?)+))?', re.MULTILINE)


def _joined(quoted: str) -> str:
    return "".join(eval(line) for line in quoted.strip().splitlines())  # noqa: S307 -- .po string literals


def msgids(po: Path) -> set[str]:
    """Every msgid of a .po file (plural ones as ``singular|plural``), the header left out."""
    text = po.read_text(encoding="utf-8")
    found = set()
    for match in _ENTRY.finditer(text):
        singular = _joined(match.group(1))
        if singular:
            found.add(singular + ("|" + _joined(match.group(2)) if match.group(2) else ""))
    return found


@needs_gettext
@pytest.mark.parametrize("domain", DOMAINS)
def test_po_files_are_up_to_date_with_the_sources(domain, tmp_path, monkeypatch):
    """makemessages over a copy of flowr finds exactly the msgids shipped:
    run ``django-admin makemessages -l fr [-d djangojs]`` in flowr/ when this fails."""
    copy = tmp_path / "flowr"
    shutil.copytree(FLOWR, copy, ignore=shutil.ignore_patterns("locale", "__pycache__", "vendor"))
    (copy / "locale").mkdir()
    monkeypatch.chdir(copy)
    call_command("makemessages", locale=["fr"], domain=domain, no_location=True, verbosity=0)
    fresh = msgids(copy / "locale" / "fr" / "LC_MESSAGES" / f"{domain}.po")
    shipped = msgids(LOCALE / f"{domain}.po")
    assert fresh, "makemessages found no strings"
    assert sorted(fresh - shipped) == [], "strings marked in the sources but missing from the .po"
    assert sorted(shipped - fresh) == [], "strings in the .po no longer in the sources"


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_string_has_a_french_translation(domain):
    text = (LOCALE / f"{domain}.po").read_text(encoding="utf-8")
    entries = text.split("\n\n")[1:]  # the header first
    untranslated = [e for e in entries if re.search(r'^msgstr(\[\d\])? ""$', e, re.MULTILINE) and '\n"' not in e]
    assert untranslated == []
    assert "#, fuzzy" not in text


@needs_gettext
@pytest.mark.parametrize("domain", DOMAINS)
def test_mo_files_are_compiled_from_the_po_files(domain, tmp_path):
    """The committed .mo holds what the .po says (run ``django-admin compilemessages`` in flowr/ when this fails)."""
    fresh = tmp_path / f"{domain}.mo"
    subprocess.run(["msgfmt", "--check", "-o", str(fresh), str(LOCALE / f"{domain}.po")], check=True)
    with fresh.open("rb") as a, (LOCALE / f"{domain}.mo").open("rb") as b:
        assert gnu_gettext.GNUTranslations(b)._catalog == gnu_gettext.GNUTranslations(a)._catalog  # type: ignore[attr-defined]


def test_french_is_active_with_language_code_fr():
    with translation.override("fr"):
        assert str(RuleSet._meta.verbose_name_plural) == "jeux de règles"
        assert translation.gettext("The root node cannot be removed.") == "Le nœud racine ne peut pas être supprimé."


# -- rules with readable names --------------------------------------------------------


@pytest.fixture
def named_rules():
    """WaitingOnCustomer (derived verbose name) -> HTTPCheck (a lazy verbose name flowr's catalog translates)."""
    body = {"__module__": "tests.test_i18n"}
    http = type("HTTPCheck", (Rule,), {**body, "__qualname__": "HTTPCheck", "verbose_name": gettext_lazy("start")})
    waiting = type("WaitingOnCustomer", (Rule,), {**body, "__qualname__": "WaitingOnCustomer", "children": [http]})
    yield waiting, http
    for cls in (waiting, http):
        rules._registry.pop(cls.class_label, None)


@pytest.fixture
def named_flow(named_rules, db):
    waiting, http = named_rules
    flow = Flow.factory_from_rules("Support", RuleSet.factory("Support rules", waiting), [({"rule": http}, [])])
    return flow


def test_admin_flow_page_in_french_shows_verbose_names(named_flow, admin_client):
    url = reverse("admin:flowr_flow_change", args=[named_flow.pk])
    with override_settings(LANGUAGE_CODE="fr"):
        page = admin_client.get(url).content.decode()
    assert "Nœuds de ce flux" in page and "démarrer un état" in page and "Versions de ce flux" not in page
    assert "Machines à états Flowr" in page  # the app's verbose name, in the breadcrumbs
    assert "Waiting on customer" in page and "WaitingOnCustomer</" not in page
    child = named_flow.root_data.children_data()[0].node_id  # not always 2: PostgreSQL sequences are not rolled back
    assert f"#{child} début" in page  # HTTPCheck's lazy verbose name, in French
    english = admin_client.get(url).content.decode()
    assert "Nodes of this flow" in english and f"#{child} start" in english


def test_accept_language_with_locale_middleware(named_flow, admin_client, settings):
    middleware = list(settings.MIDDLEWARE)
    middleware.insert(
        middleware.index("django.contrib.sessions.middleware.SessionMiddleware") + 1,
        "django.middleware.locale.LocaleMiddleware",
    )
    settings.MIDDLEWARE = middleware
    page = admin_client.get(
        reverse("admin:flowr_ruleset_change", args=[named_flow.rule_set_id]), HTTP_ACCEPT_LANGUAGE="fr"
    )
    text = page.content.decode()
    assert page["Content-Language"] == "fr"
    assert "Règles de ce jeu de règles" in text and "voir le graphe des règles" in text
    assert "Waiting on customer" in text and "début" in text


def test_state_pages_in_french(named_flow, admin_client):
    state = State.start(named_flow)
    with override_settings(LANGUAGE_CODE="fr"):
        change = admin_client.get(reverse("admin:flowr_state_change", args=[state.pk])).content.decode()
        advance = admin_client.get(reverse("admin:flowr_state_advance", args=[state.pk])).content.decode()
        history = admin_client.get(reverse("admin:flowr_statehistory_changelist")).content.decode()
    assert "Waiting on customer (nœud n° " in change and "avancer…" in change
    assert "est à <strong>Waiting on customer</strong>" in advance and "Suivant : <strong>" in advance
    assert f"Support n° {state.pk} à Waiting on customer" in history  # str(State)
    assert "Règle d'arrivée" in html.unescape(history)


def test_editor_and_javascript_catalog_in_french(named_flow, admin_client):
    with override_settings(LANGUAGE_CODE="fr"):
        page = admin_client.get(reverse("flowr:flow_editor", args=[named_flow.pk])).content.decode()
        catalog = admin_client.get(reverse("flowr:javascript_catalog")).content.decode()
    assert "Problèmes" in page and "Légende" in page and "Redisposer" in page
    assert f'<script src="{reverse("flowr:javascript_catalog")}"></script>' in page
    assert "S\\u00e9lectionnez un n\\u0153ud pour le voir et le modifier." in catalog or (
        "Sélectionnez un nœud pour le voir et le modifier." in catalog
    )
    english = admin_client.get(reverse("flowr:javascript_catalog")).content.decode()
    assert "Sélectionnez" not in english and "S\\u00e9lectionnez" not in english


def test_rule_set_graph_page_in_french(named_flow, admin_client):
    with override_settings(LANGUAGE_CODE="fr"):
        page = admin_client.get(reverse("flowr:rule_set_graph", args=[named_flow.rule_set_id])).content.decode()
    assert "Graphe des règles" in page and "Règle racine" in page
    assert '"verbose_name": "Waiting on customer"' in page


def test_refusals_in_french(named_flow):
    with translation.override("fr"):
        reason = named_flow.root_data.child_refusal(named_flow.root_data.rule)
    assert str(reason).startswith(
        "La règle Waiting on customer n'est pas un enfant valable de la règle Waiting on customer"
    )


# -- the API and the diagrams ------------------------------------------------------


def test_api_gives_verbose_names_beside_every_rule_label(named_flow, admin_client):
    waiting = f"{__name__}.WaitingOnCustomer"
    http = f"{__name__}.HTTPCheck"
    state = State.start(named_flow)
    root = named_flow.root_data.node_id

    def get(path: str, **headers: str) -> Any:
        response = admin_client.get(f"/flowr/api/{path}", **headers)
        assert response.status_code == 200, response.content
        body = response.json()
        return body["results"] if isinstance(body, dict) and "results" in body else body

    listed = {r["label"]: r for r in get("rules/?page_size=500")}
    assert listed[waiting]["name"] == "WaitingOnCustomer" and listed[waiting]["verbose_name"] == "Waiting on customer"
    assert get(f"rule-sets/{named_flow.rule_set_id}/")["root_rule_verbose_name"] == "Waiting on customer"
    detail = get(f"states/{state.pk}/")
    assert detail["current_rule_name"] == "WaitingOnCustomer"
    assert detail["current_rule_verbose_name"] == "Waiting on customer"
    assert detail["next_rules"] == [{"label": http, "name": "HTTPCheck", "verbose_name": "start"}]
    node = get(f"nodes/{root}/")
    assert node["rule_name"] == "WaitingOnCustomer" and node["rule_verbose_name"] == "Waiting on customer"
    graph = get(f"flows/{named_flow.pk}/graph/")
    assert {r["label"]: r["verbose_name"] for r in graph["rules"]} == {waiting: "Waiting on customer", http: "start"}
    rows = get(f"states/{state.pk}/history/")
    assert rows[0]["to_rule_name"] == "WaitingOnCustomer"  # stored, never rewritten
    assert rows[0]["to_rule_verbose_name"] == "Waiting on customer"
    with override_settings(LANGUAGE_CODE="fr"):
        french = get(f"states/{state.pk}/")
        refused = admin_client.post(
            f"/flowr/api/states/{state.pk}/advance/", {"rule": waiting}, content_type="application/json"
        )
    assert french["next_rules"][0]["verbose_name"] == "début"
    assert refused.status_code == 400 and refused.json()["code"] == "choice_not_in_flow"
    assert refused.json()["detail"].startswith("La règle WaitingOnCustomer n'est pas un enfant du nœud")


def test_history_shows_the_stored_name_once_the_rule_is_gone(named_flow):
    state = State.start(named_flow)
    row = state.history.get()
    row.to_rule_label = f"{__name__}.Gone"
    assert row.to_rule_verbose_name == "WaitingOnCustomer" and str(row) == "#1 start: WaitingOnCustomer"


def test_diagrams_use_verbose_names(named_flow):
    from flowr.export import flow_to_dot, flow_to_mermaid, rule_set_to_dot

    assert 'label="Waiting on customer"' in flow_to_dot(named_flow)
    assert '"Waiting on customer"' in flow_to_mermaid(named_flow)
    with translation.override("fr"):
        assert 'label="début"' in rule_set_to_dot(named_flow.rule_set)


def test_readable_strs(named_flow):
    state = State.start(named_flow)
    state = State.objects.select_related("flow", "current_node").get(pk=state.pk)
    assert str(state) == f"Support #{state.pk} at Waiting on customer"
    data = named_flow.root_data
    assert str(data) == f"#{data.node_id} Waiting on customer"
    assert str(state.history.get()) == "#1 start: Waiting on customer"
    with translation.override("fr"):
        assert str(state) == f"Support n° {state.pk} à Waiting on customer"
        assert str(data.node) == f"nœud n° {data.node_id}"
