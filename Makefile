# The two commands of the README:
#   make demo   set everything up and run the main job on the embedded default
#   make test   set everything up and run the whole test suite
.PHONY: setup setup-dev demo test lint bench faults

setup:
	scripts/setup.sh

setup-dev:
	scripts/setup.sh --dev

demo: setup
	.venv/bin/python -m backend demo

test: setup-dev
	scripts/services.sh
	.venv/bin/ruff check .
	.venv/bin/mypy
	.venv/bin/python -m pytest

lint: setup-dev
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

bench: setup-dev
	.venv/bin/python -m bench.bench_llm_server

# The fault harness (issue 9): LLM, backend, PostgreSQL and Redis faults, duplicates and schemathesis, against
# the real servers on private ports; ~25 min. FAULTS_ARGS=--long for the 10-minute LLM outages, --all for both.
faults: setup-dev
	.venv/bin/python -m pip show schemathesis >/dev/null 2>&1 || .venv/bin/python -m pip install --quiet schemathesis
	.venv/bin/python -m bench.faults $(FAULTS_ARGS)
