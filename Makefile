# Two commands do everything: `make run` (install, then open the review app on the sample)
# and `make test` (install, then the whole test suite).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export GRADIO_ANALYTICS_ENABLED := False
export HF_HUB_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1

.PHONY: install run test lint analyze-sample lock clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# --no-deps: the lock lists every package at an exact version (torch is the local CPU build)
	$(PY) -m pip install -q --no-deps -r requirements.lock
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

run: install
	$(PY) app.py

analyze-sample: install
	$(VENV)/bin/emotrace analyze assets/sample_call.wav assets/sample_video_call.mp4 --out out/

test: install
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check analyzer tests benchmarks app.py

lock:
	$(PY) -m pip freeze --exclude-editable | grep -iv '^emotrace' > requirements.lock.new
	mv requirements.lock.new requirements.lock

# Optional SpeechBrain environment for train/speechbrain_ecapa.py (a comparison candidate,
# not the product): requirements.lock without its CPU torch, then requirements-speechbrain.lock
# (torch 2.14.1, a CUDA build that needs its CUDA libraries even on CPU, torchaudio 2.11.0,
# speechbrain 1.1.2). About 7.8 GB and 5 minutes; `make speechbrain-env SB_VENV=dir` elsewhere.
SB_VENV ?= .venv-sb
SB_PY := $(SB_VENV)/bin/python
SB_STAMP := $(SB_VENV)/.installed

.PHONY: speechbrain-env

$(SB_STAMP): pyproject.toml requirements.lock requirements-speechbrain.lock
	$(PYTHON) -m venv $(SB_VENV)
	$(SB_PY) -m pip install -q --upgrade pip
	grep -v '^torch==' requirements.lock > $(SB_VENV)/requirements-base.lock
	$(SB_PY) -m pip install -q --no-deps -r $(SB_VENV)/requirements-base.lock \
		-r requirements-speechbrain.lock
	$(SB_PY) -m pip install -q --no-deps -e .
	$(SB_PY) -c "import speechbrain, torchaudio, analyzer"
	touch $(SB_STAMP)

speechbrain-env: $(SB_STAMP)

clean:
	rm -rf $(VENV) .pytest_cache
