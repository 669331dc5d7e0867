# Quickstart: `make demo` (enrich the sample episode on the embedded model), `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
SAMPLE ?= examples/long-tide-ep41.vtt
PYTEST_ARGS ?=
# llama-cpp-python builds from source; its default (-march=native) compiles in AMX kernels that
# crash in VMs which report AMX (tools/llama_cmake_args.py). This keeps the CPU's other features.
LLAMA_CMAKE_ARGS ?= $(shell $(PYTHON) tools/llama_cmake_args.py 2>/dev/null || python3 tools/llama_cmake_args.py)

.PHONY: demo test test-quick lint typecheck check bench clean

$(BIN)/python:
	$(shell command -v $(PYTHON) >/dev/null 2>&1 && echo $(PYTHON) || echo python3) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.local-installed: $(BIN)/python pyproject.toml
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install --quiet -e '.[local]'
	touch $@

$(VENV)/.dev-installed: $(BIN)/python pyproject.toml
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.local-installed

demo: $(VENV)/.local-installed
	$(BIN)/ciagent enrich $(SAMPLE) --out -

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check src tests tools
	$(BIN)/ruff format --check src tests tools

typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy

check: lint typecheck

test: check
	$(BIN)/pytest $(PYTEST_ARGS)

# Benchmarks: token ratio, batch efficiency, overhead, cache replay, embedded speed, memory.
bench: $(VENV)/.dev-installed
	$(BIN)/python -m tools.bench

test-quick: $(VENV)/.dev-installed
	$(BIN)/pytest -m "not slow" $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis build dist
