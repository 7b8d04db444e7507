# The two commands of README.md. Everything else here serves them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum < requirements.txt | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint install clean

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

## make run: set up and start the web server, a Celery worker and beat (Ctrl-C stops all).
## With no DATABASE_URL: an embedded PostgreSQL under var/postgres.
run: install
	HOST=$(HOST) PORT=$(PORT) ./scripts/run.sh

## make test: set up and run the whole suite (the embedded PostgreSQL, or DATABASE_URL's).
test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## make lint: ruff, migrations in step with the models, the import contracts.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) var
