# Two commands matter (see README): `make demo` and `make test`. Both set themselves up.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test lint fmt bench lambda-zip lock-providers clean

# Re-installs (the project editable, with its dev tools) whenever pyproject.toml is newer than the stamp.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version.split()[0]' \
	  || { echo "error: Python 3.11 is required (set PYTHON=/path/to/python3.11)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/pipeline demo $(ARGS)

# `make test` is the README's test command and CI's (.ci/run): the whole lint first, then pytest with $(ARGS) on
# $(TEST_WORKERS) pytest-xdist workers (TEST_WORKERS=0: one process). Each test module (and tests/infra, which shares
# one applied stack) runs on one worker: tests/conftest.py's scheduler groups them.
TEST_WORKERS ?= 2
test: lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope $(ARGS)

# Style, types (mypy: [tool.mypy] in pyproject.toml) and the dependency rule between the packages (import-linter:
# [tool.importlinter]), then Terraform formatting.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	terraform fmt -check -recursive terraform

fmt: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	terraform fmt -recursive terraform

# Records the provider hashes of every usual platform in each example's .terraform.lock.hcl, so `terraform init`
# works on Linux, macOS (Intel and Apple silicon) and Windows, x86 and arm CI alike. Needs the Terraform registry
# (run it where it is reachable, then commit both lock files); the offline mirror holds one platform only.
LOCK_PLATFORMS := linux_amd64 linux_arm64 darwin_amd64 darwin_arm64 windows_amd64
lock-providers:
	for example in terraform/examples/aws terraform/examples/embedded; do \
	  terraform -chdir=$$example providers lock $(addprefix -platform=,$(LOCK_PLATFORMS)) || exit 1; \
	done

lambda-zip: $(STAMP)
	$(BIN)/pipeline build-lambda

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) dist .pytest_cache .ruff_cache work
