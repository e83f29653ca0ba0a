# The two commands of the quick start: `make run` and `make test`.
# Both create .venv on first use and reinstall only when pyproject.toml changes.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: run test install dev lint typecheck unit clean

run: $(VENV)/.run ## install Modelport and serve it with the iris demo deployed
	$(BIN)/modelport serve --demo

test: $(VENV)/.dev lint typecheck ## install the dev extras and pass every check and test
	$(BIN)/pytest -n 2 --dist loadgroup

install: $(VENV)/.run
dev: $(VENV)/.dev

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.run: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -e .
	touch $@

# torch first, pinned: the CPU build on the machine; anything else would pull CUDA wheels
$(VENV)/.dev: pyproject.toml | $(VENV)/bin/python
	$(PIP) install torch==2.13.0
	$(PIP) install -e '.[onnx,embeddings,text-generation,dev]'
	touch $@ $(VENV)/.run

lint: $(VENV)/.dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports

typecheck: $(VENV)/.dev
	$(BIN)/mypy src

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# `make bench`: benchmarks/gateway.py and benchmarks/runtime.py (benchmarks/README.md). Their
# baselines, Ray Serve and KServe, live in their own virtualenv, never in the project's
# dependencies; its scikit-learn is the project's version, so both load the same joblib file.
# wrk and nginx are Debian packages: apt-get install -y wrk nginx.
BENCH_VENV ?= .venv-bench

.PHONY: bench
bench: $(VENV)/.dev $(BENCH_VENV)/.bench ## run the gateway and runtime benchmarks
	$(BIN)/python benchmarks/gateway.py --ray-python $(BENCH_VENV)/bin/python
	$(BIN)/python benchmarks/runtime.py --bench-python $(BENCH_VENV)/bin/python

$(BENCH_VENV)/.bench: | $(VENV)/.dev
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip --disable-pip-version-check -q install 'ray[serve]' kserve \
		joblib "scikit-learn==$$($(BIN)/python -c 'import sklearn; print(sklearn.__version__)')"
	touch $@
