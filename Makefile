# attnkit developer entry points. Every target creates and uses the project virtualenv .venv.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
TORCH  := torch==2.13.0
DATA   ?= $(if $(wildcard ../shared/data),../shared/data,)

.PHONY: setup demo attention-demo test lint bench clean

$(VENV)/.installed: pyproject.toml requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	# torch first and pinned: an unpinned install would fetch a multi-GB CUDA build.
	$(PIP) install --quiet $(TORCH)
	$(PIP) install --quiet -r requirements-dev.txt
	$(PIP) install --quiet --no-deps -e .
	touch $@

setup: $(VENV)/.installed

# The README demo: train a character-level Transformer on Tiny Shakespeare for 3 minutes,
# then stream 300 generated characters from the best checkpoint.
demo: setup
	ATTNKIT_DATA=$(DATA) $(VENV)/bin/attnkit train --config configs/lm/shakespeare-char.yaml \
		out_dir=runs/demo train.max_minutes=3 train.max_steps=300 train.eval_every=100 train.eval_batches=20
	ATTNKIT_DATA=$(DATA) $(VENV)/bin/attnkit generate --ckpt runs/demo/best --prompt "ROMEO:" \
		--max-new-tokens 300 --seed 0

attention-demo: setup
	$(VENV)/bin/attnkit demo

test: setup
	ATTNKIT_DATA=$(DATA) $(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check attnkit tests benchmarks

bench: setup
	$(PY) benchmarks/attention.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
