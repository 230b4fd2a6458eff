# `make demo` and `make test` work on a fresh machine: they create .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

demo: $(STAMP)
	$(VENV)/bin/transgan models
	$(VENV)/bin/transgan generate --preset transgan_tiny --n 64 --grid runs/demo-untrained-grid.png

bench: $(STAMP)
	$(PY) benchmarks/bench.py --preset transgan_s

clean:
	rm -rf $(VENV) build dist src/*.egg-info
