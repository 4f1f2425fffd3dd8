# The two commands of the README: `make demo` and `make test`.
# Everything is installed by these targets on a fresh machine: a virtualenv with
# sitebox, then the pinned tools (built once from the Go module proxy into
# ~/.cache/sitebox, reused afterwards).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO   ?= demo

.PHONY: demo test lint tools clean-demo testbed-deps

$(BIN)/sitebox: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

tools: $(BIN)/sitebox
	$(BIN)/sitebox tools install

## demo: a local sim cluster named "demo", then `sitebox install --profile demo` on it.
## Upstream charts that are not on this machine are left out (and listed).
demo: tools
	@$(BIN)/sitebox cluster status --name $(DEMO) >/dev/null 2>&1 \
	  || $(BIN)/sitebox cluster up --name $(DEMO)
	$(BIN)/sitebox install --profile demo --skip-unavailable \
	  --kubeconfig "$$($(BIN)/sitebox cluster kubeconfig --name $(DEMO))"
	$(BIN)/sitebox status --kubeconfig "$$($(BIN)/sitebox cluster kubeconfig --name $(DEMO))"

clean-demo: $(BIN)/sitebox
	$(BIN)/sitebox cluster down --name $(DEMO)

lint: $(BIN)/sitebox
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## The node playbook tests chroot into a root filesystem debootstrap builds (as root;
## without root they are skipped).
testbed-deps:
	@command -v debootstrap >/dev/null || [ "$$(id -u)" != 0 ] \
	  || (apt-get update -qq && apt-get install -y -qq debootstrap)

## test: lint, then every test (unit, chart, live on sim clusters, node playbooks)
test: tools lint testbed-deps
	$(BIN)/pytest
