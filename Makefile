# nndsl developer tasks (GNU make). Needs only a Python >= 3.11 on PATH as `python3`
# (or `make PYTHON=python3.12 ...`); everything else is installed into ./.venv.
#
#   make demo    create .venv if missing, install nndsl, train examples/digits_mlp.nn
#   make test    install nndsl + the `dev` dependency group, run ruff, mypy, lint-imports, pytest
#   make test-web  install Chromium, Node and examples/web/node_modules if missing, then run the
#                web/Node export tests (tests/export/test_web.py)
#   make bench   time `nnrun check` on a generated ~1000-line file (bench/check_speed.py)
#   make fmt     ruff format + ruff check --fix
#   make clean   remove caches and build outputs (keeps .venv); `make distclean` removes .venv too
#
# Installs are guarded by stamp files in .venv/, so they rerun only when pyproject.toml changes.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
PIP    := $(PY) -m pip
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PIP_NO_INPUT := 1

DEMO   ?= examples/digits_mlp.nn
PYTEST_ARGS ?= -n 2

.PHONY: help demo test test-web lint typecheck imports pytest bench fmt clean distclean install install-dev

help:
	@sed -n 's/^#   //p' $(firstword $(MAKEFILE_LIST))

# --- environment -------------------------------------------------------------------------------

$(VENV)/pyvenv.cfg:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "nndsl needs Python >= 3.11, $(PYTHON) is " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)

# pip >= 25.1 understands `--group` (PEP 735 dependency groups); the base Python may ship pip 23.
# The upgrade is best effort: if it fails, the dev stamp falls back to reading the group itself.
$(VENV)/.stamp-pip: | $(VENV)/pyvenv.cfg
	$(PIP) install -q -U "pip>=25.1" || echo "warning: could not upgrade pip; continuing with $$($(PIP) --version)"
	@touch $@

$(VENV)/.stamp-install: pyproject.toml $(VENV)/.stamp-pip
	$(PIP) install -q -e .
	@touch $@

$(VENV)/.stamp-dev: pyproject.toml $(VENV)/.stamp-install
	@if $(PIP) install --help | grep -q -- '--group'; then \
	    echo "$(PIP) install -q -e . --group dev"; \
	    $(PIP) install -q -e . --group dev; \
	else \
	    echo "pip has no --group: installing [dependency-groups] dev read from pyproject.toml"; \
	    $(PY) -c 'import tomllib; print("\n".join(d for d in tomllib.load(open("pyproject.toml", "rb"))["dependency-groups"]["dev"] if isinstance(d, str)))' > $(VENV)/dev-requirements.txt; \
	    $(PIP) install -q -r $(VENV)/dev-requirements.txt; \
	fi
	@touch $@

install: $(VENV)/.stamp-install
install-dev: $(VENV)/.stamp-dev

# --- tasks -------------------------------------------------------------------------------------

demo: $(VENV)/.stamp-install
	$(BIN)/nnrun $(DEMO)

lint: $(VENV)/.stamp-dev
	$(BIN)/ruff check .

typecheck: $(VENV)/.stamp-dev
	$(BIN)/mypy

imports: $(VENV)/.stamp-dev
	$(BIN)/lint-imports

pytest: $(VENV)/.stamp-dev
	$(BIN)/pytest $(PYTEST_ARGS)

# Runs every check even when an earlier one fails, then fails if any did (CI sees all problems).
test: $(VENV)/.stamp-dev
	@failed=""; \
	for step in lint typecheck imports pytest; do \
	    echo "==> make $$step"; \
	    $(MAKE) --no-print-directory $$step || failed="$$failed $$step"; \
	done; \
	if [ -n "$$failed" ]; then echo "FAILED:$$failed"; exit 1; fi; \
	echo "all checks passed"

# The browser and Node tests of the ONNX export; pytest skips them where these are missing, so
# this target installs them first and makes a missing one fail (NNDSL_REQUIRE_WEB_TESTS).
test-web: $(VENV)/.stamp-dev
	examples/web/install_deps.sh
	NNDSL_REQUIRE_WEB_TESTS=1 $(BIN)/pytest -p no:cacheprovider tests/export/test_web.py

bench: $(VENV)/.stamp-install
	$(PY) bench/check_speed.py

fmt: $(VENV)/.stamp-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf build dist .mypy_cache .ruff_cache .pytest_cache .hypothesis .import_linter_cache \
	    bench/results
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
	rm -f $(VENV)/.stamp-*

distclean: clean
	rm -rf $(VENV)
