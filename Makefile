# nbautoml developer tasks. Everything installs into .venv, made here.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python

.PHONY: venv demo test test-fast lint bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(PY) -m pip install -q -e ".[test]"
	touch $@

venv: $(VENV)/.installed

## demo: set up and run the main job on bundled data (titanic), then the quickstart notebook to HTML
demo: venv
	$(BIN)/nbautoml run data/titanic.csv --target Survived --time-budget 30 --seed 0 --out models/titanic
	$(BIN)/jupyter nbconvert --to html --execute notebooks/01_quickstart.ipynb --output-dir build/
	@echo "Quickstart notebook written to build/01_quickstart.html"

## test: lint, then the whole test suite and the notebooks
test: venv
	$(BIN)/ruff check nbautoml tests benchmarks
	$(BIN)/python -m pytest -q tests
	$(BIN)/python -m pytest -q --nbval-lax notebooks/ -p no:cacheprovider

lint: venv
	$(BIN)/ruff check nbautoml tests benchmarks

clean:
	rm -rf $(VENV) build .pytest_cache
