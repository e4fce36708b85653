# albert_np: two commands on a fresh clone.
#   make demo   - fill-mask with the default model, offline
#   make test   - the test suite (parity tests skip unless `make parity`)
# Both create and reuse a local virtualenv in .venv.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test parity bench lowest docs package clean

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
	$(PY) -m albert_np fill-mask "The cat sat on the [MASK]." "I would like a cup of [MASK], please." "The capital of France is [MASK]."

test: $(VENV)/.installed-test
	$(PY) -m pytest -q -rs

# With the oracles installed nothing is skipped: the whole suite, live parity included.
parity: $(VENV)/.installed-parity
	$(PY) -m pytest -q -rs

bench: $(VENV)/.installed-parity
	$(PY) -m pip install -q --disable-pip-version-check -e ".[test,parity,tutorials,bench]"
	$(PY) tests/benchmarks/forward.py
	$(PY) tests/benchmarks/ragged.py
	$(PY) tests/benchmarks/memory.py
	$(PY) tests/benchmarks/train_step.py

# Python 3.9 (python_requires' floor) with the lowest supported runtime dependencies: setup.cfg's
# floors pinned (.ci/lowest_requirements.py), then the tests of the code that uses them.
PYENV_39 := $(shell pyenv prefix 3.9 2>/dev/null)
LOWEST_PYTHON ?= $(if $(PYENV_39),$(PYENV_39)/bin/python,python3.9)
LOWEST_VENV := .venv-lowest
LOWEST_TESTS := tests/test_model.py tests/test_head_mask.py tests/test_losses.py tests/test_inputs.py \
	tests/test_tokenization.py tests/test_checkpoint.py tests/test_torch_bin.py tests/test_tf_checkpoint.py \
	tests/test_atomic_save.py tests/test_hub.py tests/test_auto.py tests/test_tasks.py tests/test_cli.py \
	tests/test_typing.py tests/test_packaging.py tests/test_train.py tests/test_optim.py tests/test_finetuning.py \
	tests/test_pretraining.py

$(LOWEST_VENV)/.installed: setup.cfg pyproject.toml .ci/lowest_requirements.py
	$(LOWEST_PYTHON) -m venv $(LOWEST_VENV)
	$(LOWEST_VENV)/bin/python -m pip install -q --disable-pip-version-check \
		$$($(LOWEST_VENV)/bin/python .ci/lowest_requirements.py) "pytest>=7" "hypothesis>=6"
	$(LOWEST_VENV)/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

lowest: $(LOWEST_VENV)/.installed
	$(LOWEST_VENV)/bin/python -c "import sys, numpy, sentencepiece, safetensors, huggingface_hub as h; \
		print('Python', sys.version.split()[0], '| numpy', numpy.__version__, '| sentencepiece', \
		sentencepiece.__version__, '| safetensors', safetensors.__version__, '| huggingface_hub', h.__version__)"
	$(LOWEST_VENV)/bin/python -m pytest -q -rs $(LOWEST_TESTS)

# The documentation site (MkDocs, offline, warnings are errors) in build/site; its own virtualenv.
DOCS_VENV := .venv-docs
$(DOCS_VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(DOCS_VENV)
	$(DOCS_VENV)/bin/python -m pip install -q --disable-pip-version-check -e ".[docs]"
	touch $@

docs: $(DOCS_VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(DOCS_VENV)/bin/mkdocs build --strict

# The sdist and the wheel in build/dist, and a check of what they hold (.ci/check_dist.py).
package: $(VENV)/.installed-test
	$(PY) -m pip install -q --disable-pip-version-check build
	rm -rf build/dist
	$(PY) -m build --outdir build/dist .
	$(PY) .ci/check_dist.py build/dist

clean:
	rm -rf $(VENV) $(LOWEST_VENV) $(DOCS_VENV) build *.egg-info
