# attnkit developer entry points. Every target creates and uses the project virtualenv .venv.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
TORCH  := torch==2.13.0
DATA   ?= $(if $(wildcard ../shared/data),../shared/data,)

.PHONY: setup demo test lint bench clean

$(VENV)/.installed: pyproject.toml requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	# torch first and pinned: an unpinned install would fetch a multi-GB CUDA build.
	$(PIP) install --quiet $(TORCH)
	$(PIP) install --quiet -r requirements-dev.txt
	$(PIP) install --quiet --no-deps -e .
	touch $@

setup: $(VENV)/.installed

demo: setup
	ATTNKIT_DATA=$(DATA) $(VENV)/bin/attnkit demo

test: setup
	ATTNKIT_DATA=$(DATA) $(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check attnkit tests benchmarks

bench: setup
	$(PY) benchmarks/attention.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
