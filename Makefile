# Two commands matter on a fresh clone:
#   make demo   -- build and serve the demo site (extras/sample_site)
#   make test   -- run the whole suite (FLOWR_TEST_DB=sqlite|postgres|mariadb)

PYTHON ?= python3
VENV ?= .venv
DJANGO ?= Django>=5.2,<6.0
PORT ?= 8000
PYTEST_ARGS ?=
BIN = $(VENV)/bin

.PHONY: venv test lint demo bench screenshots package docs docs-serve clean

# flowr itself is not installed into the virtualenv: the tests run with
# PYTHONPATH at the checkout and the demo's manage.py falls back to it, so an
# edit shows at once.  The demo needs flowr's dependencies only; the tests
# need the tools in requirements.txt too.  Stamp files record what is there.
DEPENDENCIES = $(BIN)/python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))'

$(BIN)/python:
	@echo "== creating the virtualenv $(VENV) ($(PYTHON))"
	$(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install -q --disable-pip-version-check --upgrade pip

$(BIN)/.demo-installed: pyproject.toml | $(BIN)/python
	@echo "== installing $(DJANGO) and flowr's dependencies (pyproject.toml) into $(VENV)"
	@$(DEPENDENCIES) > $(VENV)/dependencies.txt
	$(BIN)/pip install -q --disable-pip-version-check "$(DJANGO)" -r $(VENV)/dependencies.txt
	@touch $@

$(BIN)/.installed: pyproject.toml requirements.txt | $(BIN)/python
	@echo "== installing $(DJANGO), flowr's dependencies and the test tools (requirements.txt) into $(VENV)"
	@$(DEPENDENCIES) > $(VENV)/dependencies.txt
	$(BIN)/pip install -q --disable-pip-version-check "$(DJANGO)" -r $(VENV)/dependencies.txt -r requirements.txt
	@touch $@ $(BIN)/.demo-installed

venv: $(BIN)/.installed

test: venv
	PYTHONPATH=$(CURDIR) $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check flowr tests extras benchmarks docs/hooks
	PYTHONPATH=$(CURDIR) $(BIN)/mypy
	PYTHONPATH=$(CURDIR) DJANGO_SETTINGS_MODULE=tests.settings $(BIN)/django-admin makemigrations --check --dry-run flowr testapp

demo: $(BIN)/.demo-installed
	PORT=$(PORT) VENV=$(VENV) bash extras/sample_site/demo.sh

bench: venv
	$(BIN)/pip install -q -r benchmarks/requirements.txt
	PYTHONPATH=$(CURDIR) $(BIN)/python benchmarks/run.py $(if $(QUICK),--quick,)

$(BIN)/.docs-installed: docs/requirements.txt | $(BIN)/.demo-installed
	@echo "== installing the documentation tools (docs/requirements.txt) into $(VENV)"
	$(BIN)/pip install -q --disable-pip-version-check -r docs/requirements.txt
	@touch $@

# the site, strict (a broken link or reference fails), into build/site
docs: $(BIN)/.docs-installed
	NO_MKDOCS_2_WARNING=1 PYTHONPATH=$(CURDIR) $(BIN)/mkdocs build --strict

docs-serve: $(BIN)/.docs-installed
	NO_MKDOCS_2_WARNING=1 PYTHONPATH=$(CURDIR) $(BIN)/mkdocs serve --dev-addr 127.0.0.1:$(PORT)

# retake every picture in docs/img/ from the demo (Playwright and Chromium)
screenshots: venv
	PYTHONPATH=$(CURDIR) $(BIN)/python extras/screenshots.py

package:
	bash .ci/package.sh

clean:
	rm -rf $(VENV) build dist *.egg-info
