# Two commands matter on a fresh clone:
#   make demo   -- build and serve the demo site (extras/sample_site)
#   make test   -- run the whole suite (FLOWR_TEST_DB=sqlite|postgres|mariadb)

PYTHON ?= python3
VENV ?= .venv
DJANGO ?= Django>=5.2,<6.0
PORT ?= 8000
PYTEST_ARGS ?=
BIN = $(VENV)/bin

.PHONY: venv test lint demo bench clean

$(BIN)/.installed: setup.py requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(DJANGO)" -r requirements.txt -e .
	touch $@

venv: $(BIN)/.installed

test: venv
	PYTHONPATH=$(CURDIR) $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check flowr tests extras benchmarks
	PYTHONPATH=$(CURDIR) $(BIN)/mypy
	PYTHONPATH=$(CURDIR) DJANGO_SETTINGS_MODULE=tests.settings $(BIN)/django-admin makemigrations --check --dry-run flowr testapp

demo: venv
	PORT=$(PORT) VENV=$(VENV) bash extras/sample_site/demo.sh

bench: venv
	$(BIN)/pip install -q -r benchmarks/requirements.txt
	PYTHONPATH=$(CURDIR) $(BIN)/python benchmarks/run.py $(if $(QUICK),--quick,)

clean:
	rm -rf $(VENV) build dist *.egg-info
