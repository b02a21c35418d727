# Developer entry points. The README's two set-up commands are `make demo` and `make test`;
# both build .venv (Python 3.12) from requirements.lock on first use.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

VENV   := .venv
PY     := $(VENV)/bin/python
# Touched after a successful install; re-install only when the lock or pyproject changes.
STAMP  := $(VENV)/.bayesquad-installed
# Extra pytest arguments, e.g. `make test PYTEST_ARGS="tests/quadrature -x"`.
PYTEST_ARGS ?=
# Set to force an interpreter, e.g. `make test PYTHON=/usr/local/bin/python3.12`.
PYTHON ?=

.PHONY: help venv demo test test-fast docs bench clean

help:
	@echo "make demo       build .venv if needed, fit models/peak_on_background.py with NUTS (bayesquad fit),"
	@echo "                write the report to out/ and print its path (under a minute once .venv exists)"
	@echo "make test       build .venv if needed, run the whole test suite (slow tests included)"
	@echo "make test-fast  same, without tests marked slow"
	@echo "make docs       build the documentation site into docs/_build/html (warnings are errors; the test suite builds it too)"
	@echo "make bench      install requirements-bench.lock (JAX, NumPyro) into .venv/bench, run benchmarks/quadrature.py"
	@echo "                and benchmarks/workloads.py --repeats 2 (about 45 minutes with the dense NumPyro peer; BENCH_ARGS=\"--quick\" for a smoke run)"
	@echo "make clean      remove .venv and build artefacts"

# Prints the path of a usable interpreter: 3.12 first (python3.12, python3, then every
# pyenv 3.12.x, newest first), then the same for 3.13, which is accepted but untested.
# `sys.executable` resolves pyenv shims to the real binary, so the venv does not depend
# on the caller's pyenv selection. `ensurepip` is probed because Debian's python3 lacks
# it without python3-venv, and venv creation would fail half-way.
define find_python
probe() { "$$1" -c "import sys, ensurepip; assert sys.version_info[:2] == (3, $$2); print(sys.executable)" 2>/dev/null; }
if [ -n "$$PYTHON" ]; then
  probe "$$PYTHON" 12 || probe "$$PYTHON" 13 || { echo "PYTHON=$$PYTHON is not a Python 3.12/3.13 with ensurepip" >&2; exit 1; }
  exit 0
fi
for minor in 12 13; do
  for cand in python3.$$minor python3; do
    command -v "$$cand" >/dev/null 2>&1 && probe "$$cand" $$minor && exit 0
  done
  if command -v pyenv >/dev/null 2>&1; then
    for v in $$(pyenv versions --bare 2>/dev/null | grep -E "^3\.$$minor(\.[0-9]+)?$$" | sort -rV); do
      exe=$$(PYENV_VERSION=$$v pyenv which python3.$$minor 2>/dev/null) && probe "$$exe" $$minor && exit 0
    done
  fi
done
echo "error: no Python 3.12 found (tried python3.12, python3, pyenv; 3.13 accepted as fallback)." >&2
echo "       ArviZ 1.x needs Python >= 3.12. Install one (e.g. 'pyenv install 3.12') or pass PYTHON=/path/to/python3.12." >&2
exit 1
endef
export find_python

$(PY):
	@py=$$(PYTHON='$(PYTHON)' bash -c "$$find_python"); \
	echo "creating $(VENV) with $$py ($$("$$py" -V 2>&1))"; \
	"$$py" -m venv --clear $(VENV)

# --no-deps: the lock is complete, and it is what lets tensorflow-cpu stand in for the full
# tensorflow that tf-keras declares. --no-build-isolation: setuptools/wheel come from the
# lock, so the editable install needs no extra download.
$(STAMP): requirements.lock requirements-docs.lock pyproject.toml | $(PY)
	@$(PY) -c 'import sys; sys.exit(sys.version_info[:2] < (3, 12))' || \
	  { echo "error: $(VENV) runs $$($(PY) -V 2>&1); bayesquad needs >= 3.12. Run 'make clean' and retry." >&2; exit 1; }
	@echo "installing requirements.lock into $(VENV) (about a minute on first run)"
	$(PY) -m pip install --quiet --no-deps --progress-bar off -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --progress-bar off -r requirements-docs.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@

venv: $(STAMP)

# The command line on the W1 reference model and its bundled data; exit code 1 if the
# diagnostic verdict fails. 500 + 500 draws per chain: about 35 s on 2 cores once .venv exists.
demo: $(STAMP)
	$(VENV)/bin/bayesquad fit models/peak_on_background.py \
	  --data models/data/peak_on_background.npz --out out --warmup 500 --draws 500

# Exit code 5 means pytest collected nothing (e.g. every selected test is marked slow):
# report it instead of failing, so a marker selection alone never breaks CI.
define run_pytest
rc=0; $(PY) -m pytest $(1) $(PYTEST_ARGS) || rc=$$?; \
if [ $$rc -eq 5 ]; then echo "make: pytest collected no tests (exit 5), treated as success"; rc=0; fi; \
exit $$rc
endef

test: $(STAMP)
	@$(call run_pytest,)

test-fast: $(STAMP)
	@$(call run_pytest,-m "not slow")

# The documentation site (Sphinx, numpydoc): warnings are errors, so a broken docstring
# fails here and in tests/test_docs.py.
docs: $(STAMP)
	$(PY) -m sphinx -E -W --keep-going -q -b html docs docs/_build/html
	@echo "docs: file://$(CURDIR)/docs/_build/html/index.html"

# JAX/NumPyro (the workload benchmark's peer) live in their own venv, $(VENV)/bench, made
# here only, never for tests: with jax importable, `import tensorflow` imports it too.
# Options of workloads.py via BENCH_ARGS, e.g. `make bench BENCH_ARGS="--quick"`; the default
# is the protocol of BENCHMARKS.md's table.
BENCH_ARGS ?= --repeats 2
bench: $(STAMP)
	@test -x $(VENV)/bench/bin/python || $(PY) -m venv $(VENV)/bench
	$(VENV)/bench/bin/python -m pip install --quiet --no-deps --progress-bar off -r requirements-bench.lock
	$(PY) benchmarks/quadrature.py
	$(PY) benchmarks/workloads.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache docs/_build docs/_generated
