# nbautoml developer tasks. Everything installs into .venv, made here.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python

.PHONY: venv venv-test demo test test-slow test-pandas2 test-e2e test-load lint bench-setup bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/activate
	$(PY) -m pip install -q -e ".[test]"
	touch $@ $(VENV)/.installed

venv: $(VENV)/.installed
venv-test: $(VENV)/.installed-test

## demo: set up, run a 30 s search on the bundled titanic data, then the quickstart notebook to HTML
demo: venv
	$(BIN)/nbautoml run data/titanic.csv --target Survived --time-budget 30 --seed 0 --out models/titanic
	$(PY) -m pip install -q nbconvert ipykernel
	$(BIN)/jupyter nbconvert --to html --template classic --execute notebooks/01_quickstart.ipynb --output-dir build/
	@echo "The quickstart notebook, executed: build/01_quickstart.html"

## test: lint, then the test suite and the teaching notebooks (nbval) in one pytest run,
## on TEST_WORKERS pytest-xdist workers; --dist loadfile keeps each file's tests, and so each
## notebook's cells, in order on one worker
TEST_WORKERS ?= 2
test: venv-test
	$(BIN)/ruff check nbautoml tests benchmarks
	$(PY) -m pytest -q tests notebooks --nbval-lax -p no:cacheprovider --durations=15 \
		-n $(TEST_WORKERS) --dist loadfile

## test-slow: the tests marked slow, left out of `make test` to keep it under about 10 minutes on
## 2 cores (searches on real data of 10-40 s each: ensemble rules, the race of families, Spark,
## wide data, the benchmark script's own runs, CLI resumes, the log target on insurance)
test-slow: venv-test
	$(PY) -m pytest -q -m "slow and not alone" tests -p no:cacheprovider --durations=10 -n $(TEST_WORKERS) --dist loadfile
	$(PY) -m pytest -q -m "slow and alone" tests -p no:cacheprovider --durations=5

## test-load: the load tests, left out of `make test` for time (monitoring 100 batches of 10,000
## rows; a search on 1,000,000 rows against issue 7's memory target): about 3 minutes
test-load: venv-test
	$(PY) -m pytest -q -m load tests -p no:cacheprovider -s

## test-pandas2: the same suite with pandas 2 (pyproject allows pandas >= 2.0; CI runs the newest), in .venv-pandas2
test-pandas2:
	test -x .venv-pandas2/bin/python || $(PYTHON) -m venv .venv-pandas2
	.venv-pandas2/bin/python -m pip install -q -e ".[test]" "pandas>=2.2,<3"
	.venv-pandas2/bin/python -m pytest -q tests notebooks --nbval-lax -p no:cacheprovider --ignore=tests/e2e \
		-n $(TEST_WORKERS) --dist loadfile

## test-e2e: a notebook user's view: JupyterLab in headless Chromium (installs chromium, jupyterlab, playwright)
test-e2e: venv-test
	bash .ci/e2e.sh

lint: venv-test
	$(BIN)/ruff check nbautoml tests benchmarks

## bench-setup / bench: the comparison tools live in their own venv (see benchmarks/README.md)
bench-setup:
	$(PYTHON) -m venv benchmarks/.venv-compare
	benchmarks/.venv-compare/bin/pip install -q -r benchmarks/requirements.txt

bench: venv bench-setup
	$(PY) benchmarks/run_benchmark.py --budget 30 --out benchmarks/results/budget30.jsonl

clean:
	rm -rf $(VENV) .venv-pandas2 build .pytest_cache
