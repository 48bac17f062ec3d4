# subtext — entry points. `make corpus` and `make test` set everything up on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.subtext-setup

DATASET ?= hmdb51
CLASSES ?=
OUT ?=
CONFIG ?=
CLIP ?=
PRETRAINED ?=

.PHONY: setup corpus verify test test-fast lint bench clean-venv ui ui-stop

setup: $(STAMP)

# Idempotent: reruns only when the pins change. pip (not uv/poetry) so torch comes
# from the local disk; llama-cpp-python is built once and then served from pip's cache.
$(STAMP): requirements.lock pyproject.toml scripts/setup.sh scripts/setup_wordnet.sh data/wordnet/lexnames
	PYTHON=$(PYTHON) VENV=$(VENV) bash scripts/setup.sh
	touch $@

corpus: setup
	$(BIN)/subtext corpus build --dataset $(DATASET) \
	  $(if $(CLASSES),--classes $(CLASSES)) $(if $(OUT),--out $(OUT)) \
	  $(if $(CONFIG),--config $(CONFIG)) \
	  $(if $(CLIP),--clip $(CLIP) --pretrained $(PRETRAINED))

verify: setup
	$(BIN)/subtext corpus verify $(or $(OUT),artifacts/corpora/$(DATASET))

test: setup
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

lint: setup
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python -m bench.corpus_bench

ui: setup
	VENV=$(VENV) bash scripts/ui.sh start

ui-stop:
	VENV=$(VENV) bash scripts/ui.sh stop

clean-venv:
	rm -rf $(VENV)
