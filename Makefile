# subtext — entry points. `make corpus` and `make test` set everything up on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN ?= $(VENV)/bin
STAMP := $(VENV)/.subtext-setup

# `make train SETUP= BIN=/path/venv/bin` uses another environment as it is (e.g. one with
# only `pip install .[learner]`), without setting up .venv. The learner cannot build
# bundles, so CORPUS_BIN names the environment that builds the synthetic bundle
# (`make learner-only` does both).
SETUP ?= setup
CORPUS_BIN ?= $(BIN)

DATASET ?= hmdb51
CLASSES ?=
OUT ?=
CONFIG ?=
CLIP ?=
PRETRAINED ?=
TASK_RUNNER ?=

.PHONY: compare train learner-only setup corpus assess zeroshot verify test test-fast lint bench clean-venv ui ui-stop

setup: $(STAMP)

# Idempotent: reruns only when the pins change. pip (not uv/poetry) so torch comes
# from the local disk; llama-cpp-python is built once and then served from pip's cache.
$(STAMP): requirements.lock pyproject.toml scripts/setup.sh scripts/setup_wordnet.sh data/wordnet/lexnames
	PYTHON=$(PYTHON) VENV=$(VENV) bash scripts/setup.sh
	touch $@

corpus: $(SETUP)
	$(BIN)/subtext corpus build --dataset $(DATASET) \
	  $(if $(CLASSES),--classes $(CLASSES)) $(if $(OUT),--out $(OUT)) \
	  $(if $(CONFIG),--config $(CONFIG)) \
	  $(if $(CLIP),--clip $(CLIP) --pretrained $(PRETRAINED)) \
	  $(if $(TASK_RUNNER),--task-runner $(TASK_RUNNER))

# Intrinsic, video-free assessment of the bundle (built first by `corpus`: a no-op when up
# to date); prints the summary table, writes <bundle>.assessment/ (docs/assess.md).
# AGAINST=other-bundle compares the two source by source.
AGAINST ?=
assess: corpus
	$(BIN)/subtext corpus assess $(or $(OUT),artifacts/corpora/$(DATASET)) \
	  $(if $(AGAINST),--against $(AGAINST))

# Training-free zero-shot of every text source in the bundle on your video features, with
# controls (docs/assess.md). FEATURES= a feature cache or features.npz (required);
# REPORT= where the report goes (default <bundle>.zeroshot).
FEATURES ?=
REPORT ?=
zeroshot: $(SETUP)
	$(if $(FEATURES),,$(error make zeroshot needs FEATURES=<feature cache or features.npz>))
	$(BIN)/subtext eval zeroshot --features $(FEATURES) \
	  --bundle $(or $(OUT),artifacts/corpora/$(DATASET)) \
	  -o $(or $(REPORT),$(or $(OUT),artifacts/corpora/$(DATASET)).zeroshot)

verify: $(SETUP)
	$(BIN)/subtext corpus verify $(or $(OUT),artifacts/corpora/$(DATASET))

test: $(SETUP)
	$(BIN)/python -m pytest -q

test-fast: $(SETUP)
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(SETUP)
	$(BIN)/ruff check .

bench: $(SETUP)
	$(BIN)/python -m bench.corpus_bench

# Offline demo of the learner on generated clips (random CLIP weights: plumbing, not accuracy).
SYN := artifacts/synthetic
SYN_BUNDLE := artifacts/corpora/synthetic
train: $(SETUP)
	$(BIN)/python -m model.synthetic --out $(SYN)/clips --train-per-class 32 --val-per-class 8 --corrupt 4
	$(CORPUS_BIN)/subtext corpus build --dataset synthetic --config data/configs/synthetic.yaml --out $(SYN_BUNDLE)
	$(BIN)/python -m model.features.extract --bundle $(SYN_BUNDLE) --list $(SYN)/clips/train.txt --out $(SYN)/features/train
	$(BIN)/python -m model.features.extract --bundle $(SYN_BUNDLE) --list $(SYN)/clips/val.txt --out $(SYN)/features/val
	for H in mean temporal storyboard; do \
	  $(BIN)/python -m model.train bundle=$(SYN_BUNDLE) train_features=$(SYN)/features/train \
	    val_features=$(SYN)/features/val out=$(SYN)/runs/$$H head=$$H epochs=30 batch_size=8 lr=1e-3 && \
	  $(BIN)/python -m model.evaluate --checkpoint $(SYN)/runs/$$H/checkpoints/epoch-0030.pt \
	    --bundle $(SYN_BUNDLE) --features $(SYN)/features/val --out $(SYN)/reports/$$H \
	    --temporal-views 2 --analysis || exit 1; \
	done

# Every head (mean, temporal, storyboard, asu, alt) on identical features and splits:
# one table (top-1, top-5, few-shot K=2, parameters, GFLOPs/clip, train time) in
# $(COMPARE_OUT)/comparison.md and .json, then the interpretability report. DATASET=synthetic
# builds its clips and bundle first (as `make train`) and extracts features WITH region
# tokens (SYN_REGIONS) into their own cache, so asu/alt see regions and every head reads
# the same cache (the region-free heads ignore the regions); `make train`'s region-free
# cache is left as it is. Any other dataset reads COMPARE_BUNDLE and
# COMPARE_FEATURES/{train,val}: point COMPARE_FEATURES at caches extracted with
# `--regions tome --r R [--tokens K]` (docs/regions.md) for region-aware asu/alt; a cache
# without regions runs them on the one-region-per-frame fallback. The table states which.
# SYN_REGIONS: the tiny random ViT has 16 patches and 4 blocks, so r <= 3; r = 1 leaves
# 12 regions, merged on to K = 4 (a 2x2-sized budget, as the tests' region cache).
SYN_REGIONS := --regions tome --r 1 --tokens 4
COMPARE_BUNDLE ?= $(if $(filter synthetic,$(DATASET)),$(SYN_BUNDLE),artifacts/corpora/$(DATASET))
COMPARE_FEATURES ?= $(if $(filter synthetic,$(DATASET)),$(SYN)/features-tome,artifacts/$(DATASET)/features)
COMPARE_OUT ?= artifacts/$(DATASET)/compare
compare: $(SETUP)
	if [ "$(DATASET)" = synthetic ]; then \
	  $(BIN)/python -m model.synthetic --out $(SYN)/clips --train-per-class 32 --val-per-class 8 --corrupt 4 && \
	  $(BIN)/subtext corpus build --dataset synthetic --config data/configs/synthetic.yaml --out $(SYN_BUNDLE) && \
	  $(BIN)/python -m model.features.extract --bundle $(SYN_BUNDLE) --list $(SYN)/clips/train.txt --out $(COMPARE_FEATURES)/train $(SYN_REGIONS) && \
	  $(BIN)/python -m model.features.extract --bundle $(SYN_BUNDLE) --list $(SYN)/clips/val.txt --out $(COMPARE_FEATURES)/val $(SYN_REGIONS) || exit 1; \
	fi
	$(BIN)/python -m model.compare --bundle $(COMPARE_BUNDLE) --train-features $(COMPARE_FEATURES)/train \
	  --val-features $(COMPARE_FEATURES)/val --out $(COMPARE_OUT)
	$(BIN)/python -m model.report --bundle $(COMPARE_BUNDLE) --features $(COMPARE_FEATURES)/val \
	  --comparison $(COMPARE_OUT)/comparison.json --out $(COMPARE_OUT)/interpretability

# The learner alone, as a lab without the corpus side installs it: `pip install .[learner]`
# (same pins) into LEARNER_VENV, checked to lack llama.cpp, spaCy and Prefect, then
# `make train` with it; the synthetic bundle is built by .venv (CORPUS_BIN).
LEARNER_VENV ?= artifacts/learner-venv
learner-only: setup
	rm -rf $(LEARNER_VENV) && $(PYTHON) -m venv $(LEARNER_VENV)
	$(LEARNER_VENV)/bin/python -m pip install -q --upgrade "pip>=24"
	$(LEARNER_VENV)/bin/python -m pip install -q -c requirements.lock ".[learner]"
	cd $(LEARNER_VENV) && bin/python -c "import importlib.util as u, sys; \
	  present = [m for m in ('llama_cpp', 'spacy', 'prefect', 'nltk') if u.find_spec(m)]; \
	  sys.exit(f'learner-only install pulled in {present}' if present else 0)"
	$(MAKE) train SETUP= BIN=$(LEARNER_VENV)/bin CORPUS_BIN=$(BIN)

ui: $(SETUP)
	VENV=$(VENV) bash scripts/ui.sh start

ui-stop:
	VENV=$(VENV) bash scripts/ui.sh stop

clean-venv:
	rm -rf $(VENV)
