# albert_np: two commands on a fresh clone.
#   make demo   - fill-mask with the default model, offline
#   make test   - the test suite (parity tests skip unless `make parity`)
# Both create and reuse a local virtualenv in .venv.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test parity bench clean

$(VENV)/.installed-test: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e ".[test]"
	touch $@

# torch==2.13.0 (CPU), transformers==5.23.0 and tensorflow-cpu==2.21.0 (for tests/fixtures/make_tf_fixtures.py):
# test oracles, never used by albert_np itself;
# matplotlib + nbclient run the tutorials as notebooks.
$(VENV)/.installed-parity: $(VENV)/.installed-test
	$(PY) -m pip install -q --disable-pip-version-check -e ".[test,parity,tutorials]"
	touch $@

demo: $(VENV)/.installed-test
	$(PY) -m albert_np fill-mask "The capital of France is [MASK]."

test: $(VENV)/.installed-test
	$(PY) -m pytest -q

# With the oracles installed nothing is skipped: the whole suite, live parity included.
parity: $(VENV)/.installed-parity
	$(PY) -m pytest -q -rs

bench: $(VENV)/.installed-parity
	$(PY) -m pip install -q --disable-pip-version-check -e ".[test,parity,tutorials,bench]"
	$(PY) tests/benchmarks/forward.py
	$(PY) tests/benchmarks/ragged.py
	$(PY) tests/benchmarks/memory.py
	$(PY) tests/benchmarks/train_step.py

clean:
	rm -rf $(VENV) build *.egg-info
